//! The one interface every device implements: [`Engine`], a batch of streams
//! of one model that steps with one byte per stream and writes each stream's
//! frequency table. The pipeline, `eval`, the benchmarks and the vectors use
//! nothing else; [`super::Device`] picks the implementation.
#![deny(clippy::float_arithmetic)]

use super::Frequencies;

/// Errors of an engine.
#[derive(Clone, Debug, thiserror::Error)]
pub enum EngineError {
    /// The device cannot run this model here (no driver, no GPU, a model the
    /// device's kernels do not implement).
    #[error("{0}")]
    Unavailable(String),
    /// The device failed while running.
    #[error("{0}")]
    Device(String),
    /// The caller broke the interface's rules (lengths, a stream stepped after
    /// it ended).
    #[error("engine misuse: {0}")]
    Usage(String),
}

/// A batch of independent streams of one model on one device.
///
/// Stream protocol: a fresh stream is stepped with [`super::PRIME_BYTE`]; the
/// table written then codes its first byte `b0`; stepping `b0` gives the table
/// for `b1`, and so on. Every implementation writes, for every stream, exactly
/// the tables of the scalar reference ([`super::step_into`]), whatever the
/// batch size, the order streams end in, or how the steps are split into calls.
///
/// A stream ends when a step's `active` mask first leaves it out. From then on
/// its table in `out` is left as it was, it must stay masked off (stepping it
/// again is a [`EngineError::Usage`] error), and its state is no longer
/// defined (a device may go on computing it). [`Engine::open`] starts a new
/// batch.
pub trait Engine {
    /// What runs the streams, for reports ("cpu avx512", "cuda:0").
    fn describe(&self) -> String;

    /// The number of streams in the batch.
    fn n_streams(&self) -> usize;

    /// Drops the current batch and opens `n` fresh streams.
    fn open(&mut self, n: usize) -> Result<(), EngineError>;

    /// Steps each active stream `s` by `bytes[s]` and writes the frequencies of
    /// its next byte to `out[s]`. `bytes`, `active` and `out` have one entry per
    /// stream.
    fn step(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError>;

    /// The batched form for encoders, which know every byte in advance: each
    /// active stream `s` is stepped by the `t` bytes `bytes[s*t..(s+1)*t]` in
    /// order, and `out[s*t + k]` gets the table after its `k`-th byte (the same
    /// as `t` calls of [`Engine::step`]). `t` is `bytes.len() / n_streams`;
    /// `out` has as many entries as `bytes`.
    fn step_block(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError>;

    /// The state of `stream` in the canonical byte layout of
    /// [`super::StreamState::to_le_bytes`] (golden vectors compare it across
    /// devices).
    fn state_bytes(&self, stream: usize) -> Result<Vec<u8>, EngineError>;
}

/// Which streams of a batch have ended, and the argument checks every
/// implementation shares.
#[derive(Clone, Debug)]
pub(crate) struct Liveness {
    ended: Vec<bool>,
}

impl Liveness {
    /// `n` streams, none ended.
    pub(crate) fn new(n: usize) -> Liveness {
        Liveness {
            ended: vec![false; n],
        }
    }

    #[cfg(test)]
    fn has_ended(&self, stream: usize) -> bool {
        self.ended[stream]
    }

    /// Checks a step's arguments: `active` has one entry per stream, `bytes`
    /// and `out` `per_stream` per stream (for [`Engine::step_block`],
    /// `per_stream` is `bytes.len() / n`). Marks the streams `active` leaves
    /// out as ended, calling `on_end` for each that ends now. Returns the
    /// bytes per stream.
    pub(crate) fn begin_step(
        &mut self,
        bytes: usize,
        active: &[bool],
        out: usize,
        block: bool,
        mut on_end: impl FnMut(usize),
    ) -> Result<usize, EngineError> {
        let n = self.ended.len();
        if active.len() != n {
            return Err(EngineError::Usage(format!(
                "{} active flags for {n} streams",
                active.len()
            )));
        }
        let per_stream = match (block, n) {
            (false, _) => 1,
            (true, 0) => 0,
            (true, n) => bytes / n,
        };
        if bytes != per_stream * n || out != bytes {
            return Err(EngineError::Usage(format!(
                "{bytes} bytes and {out} tables for {n} streams"
            )));
        }
        if let Some(s) = (0..n).find(|&s| active[s] && self.ended[s]) {
            return Err(EngineError::Usage(format!(
                "stream {s} was stepped after it ended"
            )));
        }
        for (s, (ended, &on)) in self.ended.iter_mut().zip(active).enumerate() {
            if !on && !*ended {
                *ended = true;
                on_end(s);
            }
        }
        Ok(per_stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_checks_lengths_and_ended_streams() {
        let mut l = Liveness::new(3);
        let mut ended = Vec::new();
        assert_eq!(
            l.begin_step(3, &[true, false, true], 3, false, |s| ended.push(s))
                .unwrap(),
            1
        );
        assert_eq!(ended, [1]);
        // Ending is reported once; a stream left out again stays ended.
        ended.clear();
        l.begin_step(3, &[true, false, false], 3, false, |s| ended.push(s))
            .unwrap();
        assert_eq!(ended, [2]);
        assert!(l.has_ended(1) && l.has_ended(2) && !l.has_ended(0));
        let err = l.begin_step(3, &[true, true, false], 3, false, |_| {});
        assert!(matches!(err, Err(EngineError::Usage(m)) if m.contains("stream 1")));
        assert!(
            l.begin_step(2, &[true, false, false], 2, false, |_| {})
                .is_err()
        );
        assert!(l.begin_step(3, &[true, false], 3, false, |_| {}).is_err());
        // Blocks: bytes per stream from the total, which must divide evenly.
        assert_eq!(
            l.begin_step(12, &[true, false, false], 12, true, |_| {})
                .unwrap(),
            4
        );
        assert!(
            l.begin_step(10, &[true, false, false], 10, true, |_| {})
                .is_err()
        );
        assert!(
            l.begin_step(12, &[true, false, false], 9, true, |_| {})
                .is_err()
        );
        assert_eq!(
            Liveness::new(0)
                .begin_step(0, &[], 0, true, |_| {})
                .unwrap(),
            0
        );
    }
}
