//! The CUDA engine's host-side layout work, apart from the driver so that
//! tests run it without a GPU: cutting a block into pieces of positions, the
//! scattering of the tables of active streams, and the canonical order of
//! a stream's state downloaded from the device.
#![deny(clippy::float_arithmetic)]

use crate::engine::Frequencies;
use crate::model::{D_CONV, D_STATE};

/// One layer's state of a whole batch as downloaded: the conv windows and
/// the SSM states of every stream.
pub(crate) type BatchLayerState = (Vec<i8>, Vec<i32>);

/// `piece[s * w + j] = bytes[s * t + k0 + j]` for `j < w = k1 - k0`: positions
/// `k0..k1` of every stream of a block laid out stream-major with `t` bytes per
/// stream (a block too wide for one launch sequence runs in pieces).
pub(crate) fn gather_positions(bytes: &[u8], t: usize, k0: usize, k1: usize, piece: &mut Vec<u8>) {
    piece.clear();
    for row in bytes.chunks_exact(t) {
        piece.extend_from_slice(&row[k0..k1]);
    }
}

/// `out[s * t + k0 + j] = table j of stream s` for every active stream `s`,
/// from the downloaded `[n * w][256]` tables of a piece of `w` positions; the
/// tables of ended streams are dropped.
pub(crate) fn scatter_active(
    flat: &[u32],
    active: &[bool],
    t: usize,
    k0: usize,
    w: usize,
    out: &mut [Frequencies],
) {
    for (s, _) in active.iter().enumerate().filter(|(_, on)| **on) {
        for j in 0..w {
            let c = s * w + j;
            out[s * t + k0 + j]
                .0
                .copy_from_slice(&flat[c * 256..(c + 1) * 256]);
        }
    }
}

/// The canonical state bytes ([`crate::engine::StreamState::to_le_bytes`]) of
/// `stream`, from each layer's batch-wide device buffers: the conv window
/// `[S][K-1][E]` (oldest first, as the canonical order) and the SSM state
/// `[S][E][N]` (channel-major, as the canonical order).
pub(crate) fn canonical_state(layers: &[BatchLayerState], e: usize, stream: usize) -> Vec<u8> {
    let (w, h) = ((D_CONV - 1) * e, e * D_STATE);
    let mut out = Vec::with_capacity(layers.len() * (w + 4 * h));
    for (window, state) in layers {
        out.extend(
            window[stream * w..(stream + 1) * w]
                .iter()
                .map(|&v| v as u8),
        );
        out.extend(
            state[stream * h..(stream + 1) * h]
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::StreamState;
    use crate::model::Dims;
    use crate::model::synth::{SplitMix64, SynthKind, random_model};

    #[test]
    fn canonical_state_matches_stream_state() {
        let dims = Dims {
            d_model: 16,
            n_layers: 2,
        };
        let model = random_model(dims, SynthKind::Typical, 3).unwrap();
        let e = dims.d_inner();
        let n = 3;
        let mut rng = SplitMix64(9);
        let states: Vec<StreamState> = (0..n)
            .map(|_| {
                let mut st = StreamState::new(&model);
                for l in &mut st.layers {
                    l.conv.iter_mut().for_each(|v| *v = rng.next_u64() as i8);
                    l.h.iter_mut().for_each(|v| *v = rng.next_u64() as i32);
                }
                st
            })
            .collect();
        // The device layout: per layer, every stream's window, then every
        // stream's state channel-major ([E][N], the host keeps [N][E]).
        let layers: Vec<BatchLayerState> = (0..dims.n_layers)
            .map(|li| {
                let window = states
                    .iter()
                    .flat_map(|st| st.layers[li].conv.clone())
                    .collect();
                let h = states
                    .iter()
                    .flat_map(|st| {
                        let h = &st.layers[li].h;
                        (0..e).flat_map(move |ch| (0..D_STATE).map(move |k| h[k * e + ch]))
                    })
                    .collect();
                (window, h)
            })
            .collect();
        for (s, st) in states.iter().enumerate() {
            assert_eq!(
                canonical_state(&layers, e, s),
                st.to_le_bytes(),
                "stream {s}"
            );
        }
    }

    #[test]
    fn block_pieces_gather_and_scatter() {
        let (n, t) = (3, 5);
        let bytes: Vec<u8> = (0..(n * t) as u8).collect();
        let mut out = vec![Frequencies::default(); n * t];
        let active = [true, false, true];
        let mut piece = Vec::new();
        for (k0, k1) in [(0, 2), (2, 5)] {
            let w = k1 - k0;
            gather_positions(&bytes, t, k0, k1, &mut piece);
            let want: Vec<u8> = (0..n)
                .flat_map(|s| (k0..k1).map(move |k| (s * t + k) as u8))
                .collect();
            assert_eq!(piece, want);
            // A fake table per column: entry 0 is the column's byte + 1.
            let flat: Vec<u32> = piece
                .iter()
                .flat_map(|&b| (0..256).map(move |i| if i == 0 { u32::from(b) + 1 } else { 0 }))
                .collect();
            scatter_active(&flat, &active, t, k0, w, &mut out);
        }
        for s in 0..n {
            for k in 0..t {
                let want = if active[s] {
                    (s * t + k) as u32 + 1
                } else {
                    Frequencies::default().0[0]
                };
                assert_eq!(out[s * t + k].0[0], want, "stream {s} position {k}");
            }
        }
    }
}
