use boa_det::model::synth::{SynthKind, random_model};
use boa_det::model::{Dims, Model};
use std::sync::OnceLock;

/// The fixed tiny model (d=16, one layer) the targets use.
pub fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        random_model(
            Dims {
                d_model: 16,
                n_layers: 1,
            },
            SynthKind::Typical,
            1,
        )
        .expect("valid synthetic model")
    })
}
