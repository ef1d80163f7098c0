//! The model fingerprint: xxh3-128 over the canonical content of everything that
//! affects the arithmetic (dims, P, arith version, every tensor in canonical order).
//! The description and the safetensors layout (tensor order, padding) do not count.
#![deny(clippy::float_arithmetic)]

use super::Model;
use super::file::{Slot, visit_tensors};
use crate::intmath::freq::PRECISION_BITS;
use xxhash_rust::xxh3::Xxh3;

/// Domain tag that starts the hashed content.
const TAG: &[u8] = b"boa-det/model-fingerprint/v1\0";

/// A 128-bit model fingerprint, printed as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 16]);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

fn dtype_code(slot: &Slot<'_>) -> u8 {
    match slot {
        Slot::I8(_) => 1,
        Slot::I16(_) => 2,
        Slot::I32(_) => 3,
        Slot::U8(_) => 4,
        Slot::U16(_) => 5,
        Slot::U32(_) => 6,
        Slot::U64(_) => 7,
    }
}

/// Computes the fingerprint (the byte layout is in `docs/MODEL_FORMAT.md`).
pub fn compute(m: &Model) -> Fingerprint {
    let mut h = Xxh3::new();
    h.update(TAG);
    h.update(&m.arith.number().to_le_bytes());
    h.update(&PRECISION_BITS.to_le_bytes());
    h.update(&(m.dims.d_model as u32).to_le_bytes());
    h.update(&(m.dims.n_layers as u32).to_le_bytes());
    let mut copy = m.clone();
    visit_tensors(&mut copy, &mut |name, shape, slot| {
        h.update(&(name.len() as u32).to_le_bytes());
        h.update(name.as_bytes());
        h.update(&[dtype_code(&slot)]);
        h.update(&(shape.len() as u32).to_le_bytes());
        for &s in shape {
            h.update(&(s as u64).to_le_bytes());
        }
        let data = slot.to_le_bytes();
        h.update(&(data.len() as u64).to_le_bytes());
        h.update(&data);
        Ok(())
    })
    .expect("hashing cannot fail");
    Fingerprint(h.digest128().to_le_bytes())
}
