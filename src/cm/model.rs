//! The bit predictor of the context-mixing codec: counters in hashed
//! contexts of the bytes before (orders, words and fields of text, columns
//! of records), a match model, one mixer and two APMs
//! (`docs/FORMAT.md`, section 9.14).
#![deny(clippy::float_arithmetic)]

use super::counter::{self, SlotTable};
use super::counting::CountingFields;
use super::kinematics::Kinematics;
use super::logistic::{squash, stretch};
use super::mix::{Apm, Mixer, initial_weight};
use super::profile::{Context, Profile};
use super::relations::{self, Relations};

/// The hashed contexts a profile may have at most.
pub const MAX_CONTEXTS: usize = 12;

/// Counters of the match model: 32 length buckets by the expected bit.
const MATCH_COUNTERS: usize = 64;

/// Count limits of the counters: hashed contexts adapt faster than the
/// direct order-0 and order-1 tables.
const HASHED_LIMIT: u32 = 255;
const DIRECT_LIMIT: u32 = 1023;

/// Mixes a 64-bit context value `x` with the context's `salt`: a
/// multiply-xorshift, so both halves of the result depend on every bit.
#[inline]
fn hash(x: u64, salt: u64) -> u64 {
    let mut v = (x ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    v ^= v >> 29;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^ (v >> 32)
}

/// What the hash of a second nibble's context adds to its byte's: one
/// constant per value of the first nibble (a fixed 64-bit mix of it).
const NIBBLE_SALTS: [u64; 16] = {
    let mut t = [0u64; 16];
    let mut i = 0;
    while i < 16 {
        let mut v = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        v ^= v >> 31;
        v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        t[i] = v ^ (v >> 29);
        i += 1;
    }
    t
};

/// A match model: the last earlier occurrence of the last `min` bytes
/// predicts the byte that followed it, for as long as it keeps predicting.
struct MatchModel {
    min: usize,
    /// Position after each hashed `min`-byte string, 0 for none.
    last: Vec<u32>,
    mask: usize,
    /// Position in the history of the predicted byte; valid when `len > 0`.
    ptr: usize,
    len: u32,
    counters: [u32; MATCH_COUNTERS],
    /// The counter used for the current bit, if the match still agrees.
    active: Option<usize>,
    /// The table entry [`MatchModel::find`] is to read next.
    pending: Option<usize>,
}

impl MatchModel {
    fn new(min: usize, log2: u32) -> Self {
        Self {
            min,
            last: vec![0; 1 << log2],
            mask: (1 << log2) - 1,
            ptr: 0,
            len: 0,
            counters: [counter::FRESH; MATCH_COUNTERS],
            active: None,
            pending: None,
        }
    }

    /// After byte `hist[len - 1]` was appended: extends or drops the match,
    /// and hashes the last `min(min, 16)` bytes, whose table entry
    /// [`MatchModel::find`] then reads (the caller does other work between
    /// the two while the entry loads).
    fn byte_done(&mut self, hist: &[u8]) {
        let pos = hist.len();
        let byte = hist[pos - 1];
        if self.len > 0 && hist[self.ptr] == byte {
            self.len = self.len.saturating_add(1);
            self.ptr += 1;
        } else {
            self.len = 0;
        }
        self.pending = None;
        if pos < self.min {
            return;
        }
        // The last `min` bytes, at most 16, read as two words (a longer
        // `min` is checked in full by `find`).
        let word = |end: usize| -> u64 {
            let mut w = [0u8; 8];
            let from = end.saturating_sub(8);
            w[8 - (end - from)..].copy_from_slice(&hist[from..end]);
            u64::from_be_bytes(w)
        };
        let keep = |n: usize| {
            if n >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            }
        };
        let near = word(pos) & keep(self.min);
        let far = if self.min > 8 {
            word(pos - 8) & keep(self.min - 8)
        } else {
            0
        };
        let key = hash(near ^ hash(far, 98), 99);
        let h = (key >> 40) as usize & self.mask;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch never faults, and `h` is in bounds anyway.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(self.last.as_ptr().add(h).cast());
        }
        self.pending = Some(h);
    }

    /// Looks for a new match if there is none (the last earlier occurrence
    /// of the hashed bytes, verified backwards over at most 64 bytes) and
    /// records the current position for the hash.
    fn find(&mut self, hist: &[u8]) {
        let Some(h) = self.pending.take() else {
            return;
        };
        let pos = hist.len();
        if self.len == 0 {
            let cand = self.last[h] as usize;
            if cand > 0 {
                let mut l = 0;
                while l < 64 && l < cand && hist[cand - 1 - l] == hist[pos - 1 - l] {
                    l += 1;
                }
                if l >= self.min.min(64) {
                    self.len = l as u32;
                    self.ptr = cand;
                }
            }
        }
        self.last[h] = pos as u32;
    }

    /// The stretched prediction for the next bit given the partial byte
    /// `c0` (with its leading 1) at bit `bit` (0 = most significant), or 0.
    #[inline]
    fn predict(&mut self, hist: &[u8], c0: u32, bit: u32) -> i32 {
        self.active = None;
        if self.len == 0 {
            return 0;
        }
        let expected = u32::from(hist[self.ptr]) | 0x100;
        if expected >> (8 - bit) != c0 {
            return 0;
        }
        let e = (expected >> (7 - bit)) & 1;
        let l = self.len as usize;
        let bucket = if l < 16 {
            l
        } else {
            (16 + ((l - 16) >> 3)).min(31)
        };
        let i = bucket * 2 + e as usize;
        self.active = Some(i);
        stretch(counter::p12(self.counters[i]))
    }

    /// A coarse state for selecting mixer weights: 0 none, 1 short, 2 long.
    fn state(&self) -> usize {
        match (self.active, self.len) {
            (None, _) => 0,
            (Some(_), l) if l < 16 => 1,
            _ => 2,
        }
    }

    fn update(&mut self, bit: u32) {
        if let Some(i) = self.active {
            self.counters[i] = counter::update(self.counters[i], bit, HASHED_LIMIT);
        }
    }
}

/// Where a byte of text lies: what its line starts with, which field of
/// the line (fields are separated by spaces, tabs or commas), and a hash of
/// the current word (letters, digits, `.`, `+`, `-`).
#[derive(Default)]
struct TextState {
    /// Where the current and the previous line start.
    line_start: usize,
    prev_line_start: usize,
    line_head: u8,
    at_line_start: bool,
    field: u32,
    word: u64,
    prev_word: u64,
}

impl TextState {
    /// The byte at the current column of the previous line, or 0.
    fn above(&self, hist: &[u8]) -> u8 {
        let col = hist.len() - self.line_start;
        let i = self.prev_line_start + col;
        if i < self.line_start { hist[i] } else { 0 }
    }

    /// The column in the line.
    fn column(&self, pos: usize) -> usize {
        pos - self.line_start
    }

    /// After `b` was appended at `pos`.
    fn byte_done(&mut self, b: u8, pos: usize) {
        if self.at_line_start {
            self.line_head = b;
            self.at_line_start = false;
        }
        match b {
            b'\n' => {
                self.at_line_start = true;
                self.prev_line_start = self.line_start;
                self.line_start = pos + 1;
                self.field = 0;
                self.prev_word = 0;
                self.word = 0;
            }
            b' ' | b'\t' | b',' => {
                self.field = self.field.saturating_add(1);
                if self.word != 0 {
                    self.prev_word = self.word;
                }
                self.word = 0;
            }
            _ if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-') => {
                self.word = hash(self.word ^ u64::from(b), 7);
            }
            _ => {
                if self.word != 0 {
                    self.prev_word = self.word;
                }
                self.word = 0;
            }
        }
    }
}

/// The context hashes of `contexts` for the byte after `hist` (records of
/// `stride` bytes, 0 for none; `last8` its last eight bytes, `text` where it
/// lies in its line).
fn context_hashes(
    contexts: &[Context],
    stride: usize,
    hist: &[u8],
    last8: u64,
    text: &TextState,
) -> [u64; MAX_CONTEXTS] {
    let pos = hist.len();
    let at = |back: usize| -> u64 {
        if back <= pos {
            u64::from(hist[pos - back])
        } else {
            0
        }
    };
    let col = if stride != 0 { pos % stride } else { 0 } as u64;
    let s = stride;
    let mut out = [0; MAX_CONTEXTS];
    for (i, c) in contexts.iter().enumerate() {
        let v = match *c {
            Context::Order(k) => last8 & (u64::MAX >> (64 - 8 * u32::from(k))),
            Context::Word => text.word ^ (last8 & 0xFF) << 56,
            Context::WordPair => text.word ^ text.prev_word.rotate_left(17),
            Context::Field => {
                (u64::from(text.line_head) << 32)
                    | (u64::from(text.field.min(0xFFFF)) << 8)
                    | (last8 & 0xFF)
            }
            Context::Above => {
                (u64::from(text.above(hist)) << 16)
                    | (u64::from(text.line_head) << 8)
                    | (last8 & 0xFF)
            }
            Context::AboveColumn => {
                (u64::from(text.above(hist)) << 16) | (text.column(pos).min(0xFFFF) as u64)
            }
            Context::Column => (col << 8) | at(s),
            Context::ColumnLeft => (col << 16) | (at(s) << 8) | at(1),
            Context::ColumnAbove2 => (col << 16) | (at(s) << 8) | at(2 * s),
            Context::ColumnLeft2 => (col << 16) | (at(1) << 8) | at(2),
            Context::Strided4 => ((pos as u64 & 3) << 24) | (at(4) << 16) | (at(8) << 8) | at(12),
            Context::Strided8 => ((pos as u64 & 7) << 16) | (at(8) << 8) | at(16),
        };
        out[i] = hash(v, i as u64 + 1);
    }
    out
}

/// The predictor: [`CmModel::predict`] gives the probability of the next
/// bit, [`CmModel::update`] learns it. Encoder and decoder drive it alike.
pub struct CmModel {
    profile: &'static Profile,
    /// Record length of the column contexts; 0 for none.
    stride: usize,
    hist: Vec<u8>,
    /// The bits of the current byte so far, after a leading 1.
    c0: u32,
    bit: u32,
    /// The last eight bytes, the newest in the low byte.
    last8: u64,
    order0: Vec<u32>,
    order1: Vec<u32>,
    tables: Vec<SlotTable>,
    byte_hashes: [u64; MAX_CONTEXTS],
    slots: [usize; MAX_CONTEXTS],
    matcher: MatchModel,
    long_matcher: MatchModel,
    text: TextState,
    /// The inputs of the current bit, which both mixers take.
    inputs: [i32; MAX_INPUTS],
    n_inputs: usize,
    mixer: Mixer,
    /// A second weight set per byte-before (text) or column (records).
    mixer2: Mixer,
    /// What selects `mixer2`'s weight set besides the bit position, fixed
    /// per byte: the column in the record (low 8 bits), or without records
    /// the byte before. The column models are indexed by it too.
    column: usize,
    apm_order1: Apm,
    apm_order2: Apm,
    /// Whether the network's prediction is an input ([`CmModel::with_network`]).
    network: bool,
    /// The network's stretched prediction for the current bit.
    network_input: i32,
    /// The kinematic model, an input after the network's (codecs 13, 14).
    kinematics: Option<Box<Kinematics>>,
    /// The counting-field model, an input after the kinematic model's
    /// (codec 14).
    counting: Option<Box<CountingFields>>,
    /// The column models of records (codec 15).
    columns: Option<Box<ColumnModels>>,
    /// The field mixer of text (codec 16).
    field_mixer: Option<Box<FieldMixer>>,
    /// The relation model of records (codec 18).
    relations: Option<Box<Relations>>,
}

/// What codec 15 adds for tables of records (`docs/FORMAT.md` 9.18): an
/// order-0 counter per column and partial byte as one more input (the only
/// context not split by a neighbouring byte, which suits the noisy low
/// mantissa bytes of floats), a final mixer of the two mixers' outputs in
/// place of their average, and a third APM by column.
struct ColumnModels {
    /// Counters by column (low 8 bits) and partial byte `c0`.
    order0: Vec<u32>,
    /// The counter of the current bit.
    index: usize,
    /// The final mixer's inputs: the two mixers' outputs (stretched).
    outputs: [i32; 2],
    final_mixer: Mixer,
    apm: Apm,
}

impl ColumnModels {
    fn new() -> Self {
        Self {
            order0: vec![counter::FRESH; 256 * 256],
            index: 0,
            outputs: [0; 2],
            final_mixer: Mixer::new(2, 256, FINAL_MIXER_WEIGHT, FINAL_MIXER_RATE),
            apm: Apm::new(256 * 256, COLUMN_APM_RATE),
        }
    }
}

/// What codec 16 adds for text (`docs/FORMAT.md` 9.19): a third mixer whose
/// weight set is chosen by what the field is (the line's first byte, the
/// field number) and the class of the byte before, and a final mixer of the
/// three mixers' outputs in place of averaging two. Fields of HEP text
/// differ in which inputs predict them: ids count, momenta repeat digits.
struct FieldMixer {
    mixer: Mixer,
    /// The weight set of the current byte, from [`FieldMixer::selector`].
    selected: usize,
    /// The final mixer's inputs: the three mixers' outputs (stretched).
    outputs: [i32; 3],
    final_mixer: Mixer,
}

/// Weight sets of the field mixer: 32 line kinds, 16 fields, 6 classes of
/// the byte before.
const FIELD_MIXER_SETS: usize = 32 * 16 * 6;

impl FieldMixer {
    fn new(n_inputs: usize, rate: i32) -> Self {
        Self {
            mixer: Mixer::new(
                n_inputs,
                FIELD_MIXER_SETS * 8,
                initial_weight(n_inputs),
                rate,
            ),
            selected: 0,
            outputs: [0; 3],
            final_mixer: Mixer::new(3, 256, FINAL_MIXER_WEIGHT_OF_3, FINAL_MIXER_RATE),
        }
    }

    /// The weight set for the byte after `c1` in `text`:
    /// `((line_head mod 32) * 16 + min(field, 15)) * 6 + class(c1)`.
    fn selector(text: &TextState, c1: u8) -> usize {
        let class = match c1 {
            b'0'..=b'9' => 0,
            b'.' => 1,
            b' ' => 2,
            b'A'..=b'Z' | b'a'..=b'z' => 3,
            b'+' | b'-' => 4,
            _ => 5,
        };
        let kind = usize::from(text.line_head & 31) << 4 | text.field.min(15) as usize;
        kind * 6 + class
    }
}

/// The final mixers of codecs 15 and 16 start as the average of their
/// inputs and learn slowly; codec 15's APM by column learns faster than the
/// other two.
const FINAL_MIXER_WEIGHT: i32 = (1 << 16) / 2;
const FINAL_MIXER_WEIGHT_OF_3: i32 = (1 << 16) / 3;
const FINAL_MIXER_RATE: i32 = 2;
const COLUMN_APM_RATE: u32 = 6;

/// The models of fields (of text lines, of records) a mixer joined to the
/// network may take, after the network's input and in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldModels {
    /// The kinematic model (codecs 13 and 14).
    pub kinematics: bool,
    /// The counting-field model (codec 14).
    pub counting: bool,
    /// The column models of records (codec 15).
    pub columns: bool,
    /// The relation model of records whose stride is a multiple of 4
    /// (codec 18).
    pub relations: bool,
}

/// Inputs besides the hashed contexts: order 0, order 1, the two match
/// models.
const FIXED_INPUTS: usize = 4;
/// Inputs at most: those, the hashed contexts, the network, the three
/// field models and the relation model's.
const MAX_INPUTS: usize = FIXED_INPUTS + MAX_CONTEXTS + 4 + relations::INPUTS;

impl CmModel {
    /// A fresh model for a chunk of `len` bytes with `profile`, and records
    /// of `stride` bytes (0 for none).
    pub fn new(profile: &'static Profile, stride: usize, len: usize) -> Self {
        Self::build(profile, stride, len, false, FieldModels::default())
    }

    /// [`CmModel::new`] with the network's prediction of each bit as one
    /// more input ([`CmModel::predict_with_network`]), and the field models
    /// `fields` after it.
    pub fn with_network(
        profile: &'static Profile,
        stride: usize,
        len: usize,
        fields: FieldModels,
    ) -> Self {
        Self::build(profile, stride, len, true, fields)
    }

    fn build(
        profile: &'static Profile,
        stride: usize,
        len: usize,
        network: bool,
        fields: FieldModels,
    ) -> Self {
        let contexts = profile.contexts(stride != 0);
        let relations = fields.relations && stride != 0 && stride.is_multiple_of(4);
        // Two nibbles per byte: about 2 * len slots are ever asked for.
        let need = (2 * len.max(1)).next_power_of_two().trailing_zeros();
        let log2 = need.clamp(8, profile.max_log2_slots);
        let n_inputs = FIXED_INPUTS
            + contexts.len()
            + usize::from(network)
            + usize::from(fields.kinematics)
            + usize::from(fields.counting)
            + usize::from(fields.columns)
            + if relations { relations::INPUTS } else { 0 };
        let mut m = Self {
            profile,
            stride,
            hist: Vec::with_capacity(len),
            c0: 1,
            bit: 0,
            last8: 0,
            order0: vec![counter::FRESH; 256],
            order1: vec![counter::FRESH; 1 << 16],
            tables: (0..contexts.len()).map(|_| SlotTable::new(log2)).collect(),
            byte_hashes: [0; MAX_CONTEXTS],
            slots: [0; MAX_CONTEXTS],
            // The minimum lengths (of a match found; its key covers at most
            // 16 bytes): a short one finds more, a long one is more often right.
            matcher: MatchModel::new(profile.match_lengths[0], need.clamp(8, 22)),
            long_matcher: MatchModel::new(profile.match_lengths[1], need.clamp(8, 22)),
            text: TextState {
                at_line_start: true,
                ..TextState::default()
            },
            inputs: [0; MAX_INPUTS],
            n_inputs: 0,
            column: 0,
            mixer: Mixer::new(
                n_inputs,
                256 * 4,
                initial_weight(n_inputs),
                profile.mixer_rate,
            ),
            mixer2: Mixer::new(
                n_inputs,
                256 * 8,
                initial_weight(n_inputs),
                profile.mixer_rate,
            ),
            apm_order1: Apm::new(1 << 16, 7),
            apm_order2: Apm::new(256 * 4, 7),
            network,
            network_input: 0,
            kinematics: fields.kinematics.then(Box::default),
            counting: fields.counting.then(Box::default),
            columns: fields.columns.then(|| Box::new(ColumnModels::new())),
            field_mixer: (profile.field_mixer && stride == 0)
                .then(|| Box::new(FieldMixer::new(n_inputs, profile.mixer_rate))),
            relations: relations.then(|| Box::new(Relations::new(stride))),
        };
        m.start_byte();
        m
    }

    /// The bytes coded so far.
    pub fn into_history(self) -> Vec<u8> {
        self.hist
    }

    /// Context hashes for the next byte, and their first nibble's slots.
    fn start_byte(&mut self) {
        let pos = self.hist.len();
        self.column = if self.stride != 0 {
            (pos % self.stride) & 0xFF
        } else {
            (self.last8 & 0xFF) as usize
        };
        if let Some(f) = &mut self.field_mixer {
            f.selected = FieldMixer::selector(&self.text, self.last8 as u8);
        }
        if let Some(r) = &mut self.relations {
            r.start_byte(&self.hist);
        }
        self.byte_hashes = context_hashes(
            self.profile.contexts(self.stride != 0),
            self.stride,
            &self.hist,
            self.last8,
            &self.text,
        );
        let n = self.tables.len();
        for (t, &h) in self.tables.iter().zip(&self.byte_hashes[..n]) {
            t.prefetch(h);
        }
        for ((t, &h), slot) in self
            .tables
            .iter_mut()
            .zip(&self.byte_hashes[..n])
            .zip(&mut self.slots)
        {
            *slot = t.find(h);
        }
    }

    /// Slots for the second nibble, whose context adds the first.
    fn start_second_nibble(&mut self) {
        let salt = NIBBLE_SALTS[(self.c0 & 15) as usize];
        for (t, h) in self.tables.iter().zip(&self.byte_hashes) {
            t.prefetch(h ^ salt);
        }
        for ((t, h), slot) in self
            .tables
            .iter_mut()
            .zip(&self.byte_hashes)
            .zip(&mut self.slots)
        {
            *slot = t.find(h ^ salt);
        }
    }

    /// [`CmModel::predict`] for a model [`CmModel::with_network`], given
    /// the network's 12-bit probability that the bit is 1.
    #[inline]
    pub fn predict_with_network(&mut self, p_network: i32) -> i32 {
        self.network_input = stretch(p_network);
        self.predict()
    }

    /// The 12-bit probability that the next bit is 1.
    #[inline]
    pub fn predict(&mut self) -> i32 {
        let c1 = (self.last8 & 0xFF) as usize;
        let (c0, bit) = (self.c0, self.bit);
        let n = self.nibble_node();
        let buf = &mut self.inputs;
        let mut k = 0;
        let mut push = |x: i32| {
            buf[k] = x;
            k += 1;
        };
        push(stretch(counter::p12(self.order0[c0 as usize])));
        push(stretch(counter::p12(self.order1[c1 << 8 | c0 as usize])));
        push(self.matcher.predict(&self.hist, c0, bit));
        push(self.long_matcher.predict(&self.hist, c0, bit));
        for (t, &slot) in self.tables.iter_mut().zip(&self.slots) {
            push(stretch(counter::p12(t.slot(slot)[n])));
        }
        if self.network {
            push(self.network_input);
        }
        if let Some(m) = &mut self.kinematics {
            push(m.predict(c0, bit));
        }
        if let Some(m) = &mut self.counting {
            push(m.predict(c0, bit));
        }
        let column = self.column;
        if let Some(m) = &mut self.columns {
            m.index = column << 8 | c0 as usize;
            push(stretch(counter::p12(m.order0[m.index])));
        }
        if let Some(r) = &mut self.relations {
            let mut out = [0; relations::INPUTS];
            r.predict(c0, bit, &mut out);
            for x in out {
                push(x);
            }
        }
        self.n_inputs = k;
        let inputs = &self.inputs[..k];
        let m = match self.long_matcher.state() {
            0 => self.matcher.state(),
            _ => 3,
        };
        self.mixer.mix(inputs, c0 as usize * 4 + m);
        self.mixer2.mix(inputs, column * 8 + bit as usize);
        let (d1, d2) = (self.mixer.stretched(), self.mixer2.stretched());
        // Codec 15 joins the two mixers with a final one, codec 16 the two
        // and the field mixer; else they are averaged.
        let p = if let Some(cm) = &mut self.columns {
            cm.outputs = [d1, d2];
            cm.final_mixer.mix(&cm.outputs, c0 as usize)
        } else if let Some(f) = &mut self.field_mixer {
            f.mixer.mix(inputs, f.selected * 8 + bit as usize);
            f.outputs = [d1, d2, f.mixer.stretched()];
            f.final_mixer.mix(&f.outputs, c0 as usize)
        } else {
            squash((d1 + d2) >> 1)
        };
        let s = stretch(p);
        let a1 = self.apm_order1.refine(s, c1 << 8 | c0 as usize);
        let a2 = self.apm_order2.refine(s, c0 as usize | (m << 8));
        match &mut self.columns {
            Some(cm) => {
                let a3 = cm.apm.refine(s, column << 8 | c0 as usize);
                ((p + a1 + a2 + a3 + 2) >> 2).clamp(1, 4095)
            }
            None => ((2 * p + a1 + a2 + 2) >> 2).clamp(1, 4095),
        }
    }

    /// The node of the nibble tree for the next bit: 1, then 2 or 3, and so
    /// on; the second nibble starts at 1 again.
    #[inline]
    fn nibble_node(&self) -> usize {
        if self.bit < 4 {
            self.c0 as usize
        } else {
            (self.c0 as usize & ((1 << (self.bit - 4)) - 1)) | (1 << (self.bit - 4))
        }
    }

    /// Learns the coded `bit` (0 or 1) and moves to the next bit.
    #[inline]
    pub fn update(&mut self, bit: u32) {
        let c1 = (self.last8 & 0xFF) as usize;
        let o0 = &mut self.order0[self.c0 as usize];
        *o0 = counter::update(*o0, bit, DIRECT_LIMIT);
        let o1 = &mut self.order1[c1 << 8 | self.c0 as usize];
        *o1 = counter::update(*o1, bit, DIRECT_LIMIT);
        let n = self.nibble_node();
        for i in 0..self.tables.len() {
            let c = &mut self.tables[i].slot(self.slots[i])[n];
            *c = counter::update(*c, bit, HASHED_LIMIT);
        }
        self.matcher.update(bit);
        self.long_matcher.update(bit);
        if let Some(k) = &mut self.kinematics {
            k.update(bit);
        }
        if let Some(k) = &mut self.counting {
            k.update(bit);
        }
        if let Some(r) = &mut self.relations {
            r.update(bit);
        }
        let inputs = &self.inputs[..self.n_inputs];
        self.mixer.update(inputs, bit);
        self.mixer2.update(inputs, bit);
        self.apm_order1.update(bit);
        self.apm_order2.update(bit);
        if let Some(m) = &mut self.columns {
            m.order0[m.index] = counter::update(m.order0[m.index], bit, DIRECT_LIMIT);
            m.final_mixer.update(&m.outputs, bit);
            m.apm.update(bit);
        }
        if let Some(f) = &mut self.field_mixer {
            f.mixer.update(inputs, bit);
            f.final_mixer.update(&f.outputs, bit);
        }
        self.c0 = (self.c0 << 1) | bit;
        self.bit += 1;
        if self.bit == 4 {
            self.start_second_nibble();
        } else if self.bit == 8 {
            let b = (self.c0 & 0xFF) as u8;
            self.hist.push(b);
            self.last8 = (self.last8 << 8) | u64::from(b);
            self.text.byte_done(b, self.hist.len() - 1);
            if let Some(k) = &mut self.kinematics {
                k.byte_done(b);
            }
            if let Some(k) = &mut self.counting {
                k.byte_done(b);
            }
            if let Some(r) = &mut self.relations {
                r.byte_done(&self.hist);
            }
            self.matcher.byte_done(&self.hist);
            self.long_matcher.byte_done(&self.hist);
            self.c0 = 1;
            self.bit = 0;
            self.start_byte();
            self.matcher.find(&self.hist);
            self.long_matcher.find(&self.hist);
        }
    }
}
