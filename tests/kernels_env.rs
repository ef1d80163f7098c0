//! A library user with an unusable `BOA_DET_KERNELS` gets the error from
//! `dispatch::selected` and no panic from the engine (which then computes at
//! the best level: every level gives the same integers). Its own test binary,
//! because the selection is made once per process.

use boa_det::engine::cpu::dispatch::{self, Kernels};
use boa_det::model::Model;

#[test]
fn unusable_forced_level_is_an_error_not_a_panic() {
    // SAFETY: the only test in this binary, run before any thread reads the environment.
    unsafe { std::env::set_var(dispatch::KERNELS_ENV, "bogus") };
    let err = dispatch::selected().unwrap_err();
    assert!(
        err.starts_with("BOA_DET_KERNELS=bogus: unknown kernel level"),
        "{err}"
    );
    for k in Kernels::available() {
        assert!(err.contains(k.name), "{err}");
    }
    assert_eq!(dispatch::active().name, Kernels::best().name);

    let model = Model::from_bytes(boa_det::default_models::default_model().unwrap()).unwrap();
    let data = b"a library user compresses this line, twice; a library user compresses this line";
    let opts = boa_det::compress::CompressOptions::default();
    let archive = boa_det::compress::compress_bytes(&model, data, &opts).unwrap();
    let reader = boa_det::container::ArchiveReader::from_bytes(&archive).unwrap();
    assert!(
        boa_det::compress::needs_model(&reader),
        "the network coded the chunk"
    );
    let back = boa_det::compress::decompress_bytes(&archive, Some(model)).unwrap();
    assert_eq!(back, data);
}
