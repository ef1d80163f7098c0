//! One stream stepped at the scalar level: the reference every device
//! matches. It runs the same forward graph as every other CPU level
//! ([`super::graph`]) with the scalar kernels of [`crate::engine::reference`],
//! one column at a time.
#![deny(clippy::float_arithmetic)]

use std::sync::Arc;

use super::dispatch::Kernels;
use super::graph::{GroupScratch, Prepared, step_group};
use crate::engine::{Frequencies, StreamState};
use crate::model::Model;

/// Working memory of [`step_into`]: the model packed for the scalar level and
/// one column of buffers. Follows the model it is used with.
pub struct Scratch {
    prep: Arc<Prepared>,
    columns: GroupScratch,
}

impl Scratch {
    pub fn new(model: &Model) -> Scratch {
        Scratch {
            prep: Prepared::cached(model, Kernels::scalar()),
            columns: GroupScratch::new(model, 1),
        }
    }
}

/// Steps one stream by one byte and writes the frequencies of the next byte.
pub fn step_into(
    model: &Model,
    state: &mut StreamState,
    byte: u8,
    s: &mut Scratch,
    out: &mut Frequencies,
) {
    if !s.prep.is_for(model) {
        *s = Scratch::new(model);
    }
    step_group(
        model,
        &s.prep,
        std::slice::from_mut(state),
        &[byte],
        std::slice::from_mut(out),
        &mut s.columns,
    );
}

/// Steps one stream by one byte (allocates scratch; use [`step_into`] in loops).
pub fn step(model: &Model, state: &mut StreamState, byte: u8) -> Frequencies {
    let mut out = Frequencies::default();
    step_into(model, state, byte, &mut Scratch::new(model), &mut out);
    out
}
