//! The CPU device: [`CpuEngine`] runs the forward graph ([`graph`]) with one
//! kernel level of the dispatch table ([`dispatch`]); the scalar level is the
//! reference ([`reference_step`]) and the x86 levels ([`x86`]) match it bit for
//! bit.
#![deny(clippy::float_arithmetic)]

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod dispatch;
pub mod graph;
pub mod kernel_types;
pub mod reference_step;
pub mod simd_shared;
#[cfg(target_arch = "x86_64")]
pub mod x86;

use std::sync::Arc;

use rayon::prelude::*;

use crate::engine::interface::{Engine, EngineError, Liveness};
use crate::engine::{Frequencies, StreamState};
use crate::model::Model;
use dispatch::Kernels;
use graph::{GroupScratch, Prepared};

/// Positions of one stream stepped together by [`Engine::step_block`]: every
/// linear layer is one GEMM over this many consecutive bytes. Chosen by
/// measurement (`docs/KERNELS.md`); results do not depend on it.
pub const SEQUENCE_BLOCK: usize = 64;

/// A batch of streams on the CPU at one kernel level.
///
/// The states are kept in column order with the live streams first, so that
/// each step is one [`graph::step_group`] per group of [`graph::group_size`]
/// live columns (groups run in parallel on the rayon pool). A stream that ends
/// swaps columns with the last live one; the bytes and tables of a permuted
/// batch are gathered and scattered by column.
pub struct CpuEngine<'m> {
    model: &'m Model,
    prep: Arc<Prepared>,
    liveness: Liveness,
    /// The states, in column order.
    states: Vec<StreamState>,
    order: ColumnOrder,
    group: usize,
    /// One scratch per group of columns.
    scratch: Vec<GroupScratch>,
    /// The scratch of [`Engine::step_block`] (made on first use).
    sequence: Option<GroupScratch>,
    col_bytes: Vec<u8>,
    col_out: Vec<Frequencies>,
}

/// Which stream each column holds: the live streams first.
#[derive(Default)]
struct ColumnOrder {
    stream_of: Vec<usize>,
    column_of: Vec<usize>,
    /// Columns `0..live` are the streams not yet ended.
    live: usize,
}

impl ColumnOrder {
    fn new(n: usize) -> ColumnOrder {
        ColumnOrder {
            stream_of: (0..n).collect(),
            column_of: (0..n).collect(),
            live: n,
        }
    }

    /// Marks `stream` ended: its column (and state) swaps with the last live one.
    fn retire(&mut self, states: &mut [StreamState], stream: usize) {
        let c = self.column_of[stream];
        let last = self.live - 1;
        states.swap(c, last);
        self.stream_of.swap(c, last);
        self.column_of[self.stream_of[c]] = c;
        self.column_of[self.stream_of[last]] = last;
        self.live = last;
    }

    /// Whether the live columns hold streams `0..live` in order.
    fn is_identity(&self) -> bool {
        self.stream_of[..self.live]
            .iter()
            .enumerate()
            .all(|(c, &s)| c == s)
    }
}

impl<'m> CpuEngine<'m> {
    /// An engine at the active kernel level ([`dispatch::active`]), with no streams open.
    pub fn new(model: &'m Model) -> CpuEngine<'m> {
        CpuEngine::with_kernels(model, dispatch::active())
    }

    /// An engine at kernel level `kernels`, with no streams open.
    pub fn with_kernels(model: &'m Model, kernels: Kernels) -> CpuEngine<'m> {
        CpuEngine {
            model,
            prep: Prepared::cached(model, kernels),
            liveness: Liveness::new(0),
            states: Vec::new(),
            order: ColumnOrder::default(),
            group: graph::group_size(),
            scratch: Vec::new(),
            sequence: None,
            col_bytes: Vec::new(),
            col_out: Vec::new(),
        }
    }

    /// An engine with `n` fresh streams open.
    pub fn with_streams(model: &'m Model, n: usize) -> CpuEngine<'m> {
        let mut e = CpuEngine::new(model);
        e.open_streams(n);
        e
    }

    /// The kernel level.
    pub fn kernels(&self) -> Kernels {
        self.prep.kernels()
    }

    fn open_streams(&mut self, n: usize) {
        let m = self.model;
        self.liveness = Liveness::new(n);
        self.states = (0..n).map(|_| StreamState::new(m)).collect();
        self.order = ColumnOrder::new(n);
        let groups = n.div_ceil(self.group);
        let cap = n.min(self.group);
        if self.scratch.len() != groups || self.scratch.first().is_some_and(|s| s.cap() != cap) {
            self.scratch = (0..groups).map(|_| GroupScratch::new(m, cap)).collect();
        }
        self.col_bytes = vec![0; n];
        self.col_out = vec![Frequencies::default(); n];
    }

    /// Steps columns `0..live` by `bytes`, writing `out` (both by column).
    fn step_columns(
        model: &Model,
        prep: &Prepared,
        states: &mut [StreamState],
        bytes: &[u8],
        out: &mut [Frequencies],
        scratch: &mut [GroupScratch],
        group: usize,
    ) {
        if states.len() <= group {
            graph::step_group(model, prep, states, bytes, out, &mut scratch[0]);
            return;
        }
        states
            .par_chunks_mut(group)
            .zip(bytes.par_chunks(group))
            .zip(out.par_chunks_mut(group))
            .zip(scratch.par_iter_mut())
            .for_each(|(((st, by), o), sc)| graph::step_group(model, prep, st, by, o, sc));
    }
}

impl Engine for CpuEngine<'_> {
    fn describe(&self) -> String {
        format!("cpu {}", self.prep.kernels().name)
    }

    fn n_streams(&self) -> usize {
        self.states.len()
    }

    fn open(&mut self, n: usize) -> Result<(), EngineError> {
        self.open_streams(n);
        Ok(())
    }

    fn step(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError> {
        let (order, states) = (&mut self.order, &mut self.states);
        self.liveness
            .begin_step(bytes.len(), active, out.len(), false, |s| {
                order.retire(states, s)
            })?;
        let live = self.order.live;
        if live == 0 {
            return Ok(());
        }
        let (model, prep, group) = (self.model, &*self.prep, self.group);
        let (states, scratch) = (&mut self.states[..live], &mut self.scratch);
        if self.order.is_identity() {
            // Columns are streams: no gathering.
            let (bytes, out) = (&bytes[..live], &mut out[..live]);
            Self::step_columns(model, prep, states, bytes, out, scratch, group);
            return Ok(());
        }
        let stream_of = &self.order.stream_of[..live];
        for (b, &s) in self.col_bytes.iter_mut().zip(stream_of) {
            *b = bytes[s];
        }
        let (col_bytes, col_out) = (&self.col_bytes[..live], &mut self.col_out[..live]);
        Self::step_columns(model, prep, states, col_bytes, col_out, scratch, group);
        for (f, &s) in col_out.iter().zip(stream_of) {
            out[s] = f.clone();
        }
        Ok(())
    }

    fn step_block(
        &mut self,
        bytes: &[u8],
        active: &[bool],
        out: &mut [Frequencies],
    ) -> Result<(), EngineError> {
        let (order, states) = (&mut self.order, &mut self.states);
        let t = self
            .liveness
            .begin_step(bytes.len(), active, out.len(), true, |s| {
                order.retire(states, s)
            })?;
        if t == 0 || self.order.live == 0 {
            return Ok(());
        }
        let model = self.model;
        let seq = self
            .sequence
            .get_or_insert_with(|| GroupScratch::new(model, SEQUENCE_BLOCK));
        for (c, &s) in self.order.stream_of[..self.order.live].iter().enumerate() {
            let (by, o) = (&bytes[s * t..(s + 1) * t], &mut out[s * t..(s + 1) * t]);
            for (piece, o) in by.chunks(SEQUENCE_BLOCK).zip(o.chunks_mut(SEQUENCE_BLOCK)) {
                graph::step_sequence(model, &self.prep, &mut self.states[c], piece, o, seq);
            }
        }
        Ok(())
    }

    fn state_bytes(&self, stream: usize) -> Result<Vec<u8>, EngineError> {
        match self.order.column_of.get(stream) {
            Some(&c) => Ok(self.states[c].to_le_bytes()),
            None => Err(EngineError::Usage(format!(
                "stream {stream} of {}",
                self.states.len()
            ))),
        }
    }
}
