//! The CUDA engine's host-side layout work, apart from the driver so that
//! tests run it without a GPU: the time-major gathering of a block's bytes,
//! the scattering of the tables of active streams, and the canonical order of
//! a stream's state downloaded from the device.
#![deny(clippy::float_arithmetic)]

use crate::engine::Frequencies;
use crate::model::{D_CONV, D_STATE};

/// One layer's state of a whole batch as downloaded: the conv windows and
/// the SSM states of every stream.
pub(crate) type BatchLayerState = (Vec<i8>, Vec<i32>);

/// `column[s] = bytes[s * t + k]`: position `k` of every stream of a block
/// laid out stream-major with `t` bytes per stream.
pub(crate) fn gather_position(bytes: &[u8], t: usize, k: usize, column: &mut [u8]) {
    for (s, b) in column.iter_mut().enumerate() {
        *b = bytes[s * t + k];
    }
}

/// `out[s * t + k] = tables[s]` for every active stream `s`; the tables of
/// ended streams are dropped.
pub(crate) fn scatter_active(
    tables: Vec<Frequencies>,
    active: &[bool],
    t: usize,
    k: usize,
    out: &mut [Frequencies],
) {
    for (s, f) in tables.into_iter().enumerate() {
        if active[s] {
            out[s * t + k] = f;
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
    fn block_positions_gather_and_scatter() {
        let (n, t) = (3, 4);
        let bytes: Vec<u8> = (0..(n * t) as u8).collect();
        let mut column = vec![0u8; n];
        let mut out = vec![Frequencies::default(); n * t];
        let active = [true, false, true];
        for k in 0..t {
            gather_position(&bytes, t, k, &mut column);
            assert_eq!(column, [k as u8, (t + k) as u8, (2 * t + k) as u8]);
            let tables = column
                .iter()
                .map(|&b| {
                    let mut f = Frequencies::default();
                    f.0[0] = u32::from(b) + 1;
                    f
                })
                .collect();
            scatter_active(tables, &active, t, k, &mut out);
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
