//! The recurrent state of one stream, which every device keeps in its own
//! layout and can export in the canonical one ([`StreamState::to_le_bytes`]).
#![deny(clippy::float_arithmetic)]

use crate::model::{D_CONV, D_STATE, Model};

/// The byte a fresh stream is stepped with before its first real byte.
pub const PRIME_BYTE: u8 = 0;

/// The recurrent state of one stream: per layer the conv window and the SSM state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamState {
    pub(crate) layers: Vec<LayerState>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LayerState {
    /// `[K-1][E]` previous conv inputs, oldest first.
    pub(crate) conv: Vec<i8>,
    /// `[N][E]` SSM state, state-major like the scan ([`crate::engine::reference::ScanLayer`]).
    pub(crate) h: Vec<i32>,
}

impl StreamState {
    /// The all-zero state a stream starts from.
    pub fn new(model: &Model) -> StreamState {
        let e = model.dims.d_inner();
        StreamState {
            layers: (0..model.dims.n_layers)
                .map(|_| LayerState {
                    conv: vec![0; (D_CONV - 1) * e],
                    h: vec![0; e * D_STATE],
                })
                .collect(),
        }
    }

    /// Canonical little-endian bytes of the state (for golden-vector digests):
    /// per layer the conv window, then the SSM state channel by channel
    /// (`[E][N]`, whatever the in-memory order).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in &self.layers {
            out.extend(l.conv.iter().map(|&v| v as u8));
            let e = l.h.len() / D_STATE;
            for ch in 0..e {
                out.extend((0..D_STATE).flat_map(|n| l.h[n * e + ch].to_le_bytes()));
            }
        }
        out
    }
}
