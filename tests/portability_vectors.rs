//! The committed portability vectors: every digest must be reproduced by this
//! build, and the committed files must be exactly what the generator makes.

use boa_det::vectors;
use std::path::Path;

const DIR: &str = "portability-vectors";

#[test]
fn committed_vectors_match_the_engine() {
    let n = vectors::check(Path::new(DIR))
        .unwrap_or_else(|e| panic!("portability vector mismatch: {e}"));
    assert_eq!(n, vectors::MODELS.len() * vectors::inputs().len());
}

#[test]
fn committed_files_are_generated_not_hand_made() {
    let manifest = std::fs::read_to_string(Path::new(DIR).join("manifest.tsv")).unwrap();
    assert_eq!(
        manifest,
        vectors::manifest(),
        "regenerate with `boa-det vectors generate {DIR}`"
    );
    for spec in vectors::MODELS {
        let on_disk = std::fs::read(
            Path::new(DIR)
                .join("models")
                .join(format!("{}.safetensors", spec.name)),
        )
        .unwrap();
        assert!(
            on_disk == vectors::build_model(spec).to_bytes(),
            "{} differs from the generator",
            spec.name
        );
    }
    for (name, data) in vectors::inputs() {
        let on_disk =
            std::fs::read(Path::new(DIR).join("inputs").join(format!("{name}.bin"))).unwrap();
        assert!(on_disk == data, "input {name} differs from the generator");
    }
}
