//! The codec registry: one table, [`CODECS`], gives for every codec its id,
//! name, first format version, whether it codes with the network, and its
//! recipe (the predictors it mixes into the network's frequencies, in order).
//! Everything else reads it: [`Codec`]'s methods, the payload framing
//! ([`Mixing::frame`], [`Mixing::from_payload`]), the mixer
//! ([`super::Mixer::new`]), the compressor's choice of codec
//! (`compress::CompressOptions::for_codec`, `for_format_version` and
//! [`Mixing::richest`]), the CLI and the golden archives.
//!
//! # How to add a codec
//! 1. Write its predictor: one file in `src/mixing/` with a type that
//!    implements [`super::Predictor`], a [`Stage`] variant for it, and its
//!    arm in `Mixer::new` and in `AnyPredictor` (`src/mixing/mod.rs`).
//!    If a stride prefix frames its payload, say so in [`Stage::needs_stride`].
//! 2. Add a [`Codec`] variant with the next id, and one row at the end of
//!    [`CODECS`]: name, first format version (a new one: raise
//!    `container::FORMAT_VERSION_NEWEST`) and recipe. If the compressor may
//!    choose the new stage, give `CompressOptions` the switch for it
//!    (`CompressOptions::allows` and `disallow`); [`Mixing::richest`] then
//!    picks the codec whenever its stages are allowed.
//! 3. Describe it in `docs/FORMAT.md` section 9, and add a golden archive
//!    for it in `src/vectors.rs`.
//!
//! The tests of this module check the table: ids in order, names unique,
//! every recipe reachable through [`Mixing::richest`] by exactly one codec,
//! framing and parsing inverse to each other.
#![deny(clippy::float_arithmetic)]

use super::record_stride::{MAX_RECORD_STRIDE, MIN_RECORD_STRIDE};

/// How a chunk's payload is encoded: an id of [`CODECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// The payload is the original chunk.
    Stored = 0,
    /// The payload is the neural model's range-coded stream of the chunk.
    Neural = 1,
    /// Reserved for a zstd fallback; readers may not support it.
    Zstd = 2,
    /// The range-coded stream of the neural model with the match model mixed
    /// in (`docs/FORMAT.md` section 9.9).
    NeuralMatch = 3,
    /// Codec 3 plus the column finder for fixed-size records; the payload
    /// starts with the record stride (`docs/FORMAT.md` section 9.10).
    NeuralMatchColumns = 4,
    /// Codec 3 plus the long finder (`docs/FORMAT.md` section 9.11).
    NeuralMatchLong = 5,
    /// Codec 4 plus the long finder; the payload starts with the record
    /// stride (`docs/FORMAT.md` section 9.11).
    NeuralMatchLongColumns = 6,
    /// Codec 6 plus the column histograms; the payload starts with the
    /// record stride (`docs/FORMAT.md` section 9.12).
    NeuralMatchLongColumnsHist = 7,
    /// Codec 5 plus the text field histograms (`docs/FORMAT.md` section 9.13).
    NeuralMatchLongText = 8,
    /// The context-mixing codec, without the network ([`crate::cm`],
    /// `docs/FORMAT.md` section 9.14).
    Cm = 9,
    /// Codec 5's table coded bit by bit by the context mixer, with the
    /// table as one of its inputs (`docs/FORMAT.md` section 9.15).
    NeuralMatchLongCm = 10,
    /// Codec 7's table (with its stride prefix) coded by the context mixer.
    NeuralMatchLongColumnsHistCm = 11,
    /// Codec 8's table coded by the context mixer.
    NeuralMatchLongTextCm = 12,
    /// Codec 12 with the kinematic model among the context mixer's inputs
    /// (`docs/FORMAT.md` section 9.16).
    NeuralMatchLongTextCmKin = 13,
    /// Codec 13 with the counting-field model among the context mixer's
    /// inputs (`docs/FORMAT.md` section 9.17).
    NeuralMatchLongTextCmKinCount = 14,
    /// Codec 11 with the column models in the context mixer
    /// (`docs/FORMAT.md` section 9.18).
    NeuralMatchLongColumnsHistCmCol = 15,
    /// Codec 14 with the wide mixer
    /// (`docs/FORMAT.md` section 9.19).
    NeuralMatchLongTextCmKinCountWide = 16,
    /// Codec 15 with the wide mixer
    /// (`docs/FORMAT.md` section 9.19).
    NeuralMatchLongColumnsHistCmColWide = 17,
    /// Codec 17 with the relation model (`docs/FORMAT.md` 9.20).
    NeuralMatchLongColumnsHistCmColWideRel = 18,
}

/// One predictor (or group of predictors) a codec mixes into the network's
/// frequencies, in the order of its recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The column finder for records of the payload's stride
    /// ([`super::column_finder`]).
    ColumnFinder,
    /// The four match finders of [`super::match_finders::ORDERS`].
    MatchFinders,
    /// The long finder ([`super::long_finder`]).
    LongFinder,
    /// The column histograms for records of the payload's stride
    /// ([`super::column_histograms`]).
    ColumnHistograms,
    /// The text field histograms ([`super::text_fields`]).
    TextFields,
    /// The table is not range-coded as it is but bit by bit by the
    /// context mixer of [`crate::cm::network`], which takes it as an input.
    ContextMixing,
    /// With [`Stage::ContextMixing`]: the kinematic model
    /// ([`crate::cm::kinematics`]) is one more input of that mixer.
    Kinematics,
    /// With [`Stage::ContextMixing`]: the counting-field model
    /// ([`crate::cm::counting`]) is one more input of that mixer.
    Counting,
    /// With [`Stage::ContextMixing`] on records: the column models
    /// ([`crate::cm::model`], codec 15) join that mixer.
    ColumnModels,
    /// With [`Stage::ContextMixing`]: that mixer takes the contexts of
    /// [`crate::cm::network::NETWORK_WIDE_PROFILE`] (codecs 16 and 17).
    WideMixer,
    /// With [`Stage::ColumnModels`]: the relation model
    /// ([`crate::cm::relations`]) joins that mixer (codec 18).
    Relations,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 11] = [
        Self::ColumnFinder,
        Self::MatchFinders,
        Self::LongFinder,
        Self::ColumnHistograms,
        Self::TextFields,
        Self::ContextMixing,
        Self::Kinematics,
        Self::Counting,
        Self::ColumnModels,
        Self::WideMixer,
        Self::Relations,
    ];

    /// Whether the stage needs a record stride, which the payload then
    /// starts with ([`Mixing::frame`]).
    pub fn needs_stride(self) -> bool {
        matches!(self, Self::ColumnFinder | Self::ColumnHistograms)
    }
}

/// A row of [`CODECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecSpec {
    pub codec: Codec,
    /// The codec's name, as `boa-det list` prints it.
    pub name: &'static str,
    /// The first format version in which the codec may appear.
    pub min_format_version: u16,
    /// What is mixed into the network's frequencies, in this order, if the
    /// payload is a range-coded stream of the network (which needs the model
    /// to decode); `None` otherwise.
    pub recipe: Option<&'static [Stage]>,
}

impl CodecSpec {
    /// Whether the payload starts with a record stride (u32 little-endian).
    pub fn needs_stride(&self) -> bool {
        self.recipe
            .is_some_and(|r| r.iter().any(|s| s.needs_stride()))
    }
}

use Stage::{
    ColumnFinder, ColumnHistograms, ColumnModels, ContextMixing, Counting, Kinematics, LongFinder,
    MatchFinders, Relations, TextFields, WideMixer,
};

/// Every codec, in id order (`CODECS[id].codec as u8 == id`).
pub const CODECS: [CodecSpec; 19] = [
    CodecSpec {
        codec: Codec::Stored,
        name: "stored",
        min_format_version: 1,
        recipe: None,
    },
    CodecSpec {
        codec: Codec::Neural,
        name: "neural",
        min_format_version: 1,
        recipe: Some(&[]),
    },
    CodecSpec {
        codec: Codec::Zstd,
        name: "zstd",
        min_format_version: 1,
        recipe: None,
    },
    CodecSpec {
        codec: Codec::NeuralMatch,
        name: "neural+match",
        min_format_version: 2,
        recipe: Some(&[MatchFinders]),
    },
    // The column finder first: the match finders, more reliable on long
    // repeats, act last (measured: 0.4 % better on a 20-column table).
    CodecSpec {
        codec: Codec::NeuralMatchColumns,
        name: "neural+match+columns",
        min_format_version: 3,
        recipe: Some(&[ColumnFinder, MatchFinders]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLong,
        name: "neural+match+long",
        min_format_version: 4,
        recipe: Some(&[MatchFinders, LongFinder]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongColumns,
        name: "neural+match+long+columns",
        min_format_version: 4,
        recipe: Some(&[ColumnFinder, MatchFinders, LongFinder]),
    },
    // Histograms last: their weights are learned on the finished table.
    CodecSpec {
        codec: Codec::NeuralMatchLongColumnsHist,
        name: "neural+match+long+columns+hist",
        min_format_version: 5,
        recipe: Some(&[ColumnFinder, MatchFinders, LongFinder, ColumnHistograms]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongText,
        name: "neural+match+long+text",
        min_format_version: 6,
        recipe: Some(&[MatchFinders, LongFinder, TextFields]),
    },
    CodecSpec {
        codec: Codec::Cm,
        name: "cm",
        min_format_version: 7,
        recipe: None,
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongCm,
        name: "neural+match+long+cm",
        min_format_version: 7,
        recipe: Some(&[MatchFinders, LongFinder, ContextMixing]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongColumnsHistCm,
        name: "neural+match+long+columns+hist+cm",
        min_format_version: 7,
        recipe: Some(&[
            ColumnFinder,
            MatchFinders,
            LongFinder,
            ColumnHistograms,
            ContextMixing,
        ]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongTextCm,
        name: "neural+match+long+text+cm",
        min_format_version: 7,
        recipe: Some(&[MatchFinders, LongFinder, TextFields, ContextMixing]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongTextCmKin,
        name: "neural+match+long+text+cm+kin",
        min_format_version: 8,
        recipe: Some(&[
            MatchFinders,
            LongFinder,
            TextFields,
            ContextMixing,
            Kinematics,
        ]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongTextCmKinCount,
        name: "neural+match+long+text+cm+kin+count",
        min_format_version: 9,
        recipe: Some(&[
            MatchFinders,
            LongFinder,
            TextFields,
            ContextMixing,
            Kinematics,
            Counting,
        ]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongColumnsHistCmCol,
        name: "neural+match+long+columns+hist+cm+col",
        min_format_version: 9,
        recipe: Some(&[
            ColumnFinder,
            MatchFinders,
            LongFinder,
            ColumnHistograms,
            ContextMixing,
            ColumnModels,
        ]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongTextCmKinCountWide,
        name: "neural+match+long+text+cm+kin+count+wide",
        min_format_version: 10,
        recipe: Some(&[
            MatchFinders,
            LongFinder,
            TextFields,
            ContextMixing,
            Kinematics,
            Counting,
            WideMixer,
        ]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongColumnsHistCmColWide,
        name: "neural+match+long+columns+hist+cm+col+wide",
        min_format_version: 10,
        recipe: Some(&[
            ColumnFinder,
            MatchFinders,
            LongFinder,
            ColumnHistograms,
            ContextMixing,
            ColumnModels,
            WideMixer,
        ]),
    },
    CodecSpec {
        codec: Codec::NeuralMatchLongColumnsHistCmColWideRel,
        name: "neural+match+long+columns+hist+cm+col+wide+rel",
        min_format_version: 11,
        recipe: Some(&[
            ColumnFinder,
            MatchFinders,
            LongFinder,
            ColumnHistograms,
            ContextMixing,
            ColumnModels,
            WideMixer,
            Relations,
        ]),
    },
];

const _: () = {
    let mut i = 0;
    while i < CODECS.len() {
        assert!(CODECS[i].codec as usize == i, "CODECS must be in id order");
        i += 1;
    }
};

impl Codec {
    /// Every defined codec, in id order.
    pub const ALL: [Codec; CODECS.len()] = {
        let mut all = [Codec::Stored; CODECS.len()];
        let mut i = 0;
        while i < CODECS.len() {
            all[i] = CODECS[i].codec;
            i += 1;
        }
        all
    };

    /// The codec's row of [`CODECS`].
    pub fn spec(self) -> &'static CodecSpec {
        &CODECS[self as usize]
    }

    /// The codec's name, as `boa-det list` prints it.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The first format version in which the codec may appear.
    pub fn min_format_version(self) -> u16 {
        self.spec().min_format_version
    }

    /// The codec with the given id, if it is defined.
    pub fn from_id(id: u8) -> Option<Self> {
        CODECS.get(usize::from(id)).map(|s| s.codec)
    }

    /// Whether the payload is a range-coded stream of the network (with or
    /// without predictors mixed in), which needs the model to decode.
    pub fn is_neural(self) -> bool {
        self.spec().recipe.is_some()
    }

    /// The codec's id byte.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Whether the payload's stream is of binary decisions of the context
    /// mixer (codec `cm` and the `+cm` codecs) rather than of 256-symbol
    /// tables.
    pub fn codes_bits(self) -> bool {
        self == Codec::Cm
            || self
                .spec()
                .recipe
                .is_some_and(|r| r.contains(&Stage::ContextMixing))
    }

    /// The most original bytes a payload of `payload_len` bytes can hold
    /// (`docs/FORMAT.md` 9.6 and 9.14), for the codecs that code a stream;
    /// `None` for the others.
    pub fn max_claim(self, payload_len: usize) -> Option<u64> {
        if self == Codec::Cm {
            Some(crate::cm::max_decoded_len(payload_len))
        } else if self.codes_bits() {
            Some(crate::cm::max_decoded_len_of_stream(payload_len))
        } else if self.is_neural() {
            Some(crate::coder::max_symbols(payload_len))
        } else {
            None
        }
    }
}

/// What a neural stream mixes into the network's frequencies: its codec's
/// recipe, and the record stride if the recipe needs one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mixing {
    codec: Codec,
    stride: Option<u32>,
}

/// Bytes a payload of the codecs with a stride starts with.
pub const STRIDE_PREFIX_LEN: usize = 4;

impl Mixing {
    /// The network alone (codec `Neural`).
    pub const NETWORK_ONLY: Mixing = Mixing {
        codec: Codec::Neural,
        stride: None,
    };

    /// The mixing of a neural `codec`, with a `stride` exactly if its recipe
    /// needs one.
    pub fn new(codec: Codec, stride: Option<u32>) -> Result<Self, String> {
        let spec = codec.spec();
        if spec.recipe.is_none() {
            return Err(format!("codec {} is not a neural codec", spec.name));
        }
        if spec.needs_stride() != stride.is_some() {
            return Err(format!(
                "codec {} {} a record stride",
                spec.name,
                if spec.needs_stride() {
                    "needs"
                } else {
                    "takes no"
                }
            ));
        }
        Ok(Self { codec, stride })
    }

    /// The richest neural codec whose stages are all `allowed` and that
    /// needs a stride exactly if `stride` is given: the one with the most
    /// stages (the table's tests check there is one). The network alone if
    /// none qualifies (only possible with a stride).
    pub fn richest(allowed: impl Fn(Stage) -> bool, stride: Option<u32>) -> Self {
        CODECS
            .iter()
            .filter(|c| c.needs_stride() == stride.is_some())
            .filter_map(|c| Some((c.codec, c.recipe?)))
            .filter(|(_, r)| r.iter().all(|&s| allowed(s)))
            .max_by_key(|(_, r)| r.len())
            .map_or(Self::NETWORK_ONLY, |(codec, _)| Self { codec, stride })
    }

    /// The codec of streams coded with this mixing.
    pub fn codec(self) -> Codec {
        self.codec
    }

    /// The record stride of the column finder and histograms, if any.
    pub fn stride(self) -> Option<u32> {
        self.stride
    }

    /// The stages mixed in, in order.
    pub fn recipe(self) -> &'static [Stage] {
        self.codec.spec().recipe.unwrap_or(&[])
    }

    /// Whether `stage` is mixed in.
    pub fn has(self, stage: Stage) -> bool {
        self.recipe().contains(&stage)
    }

    /// The chunk payload for a range-coded `stream`: the codecs with a
    /// stride prefix it (u32 little-endian), the others store the stream as
    /// is (`docs/FORMAT.md` sections 9.10 and 9.11).
    pub fn frame(self, stream: Vec<u8>) -> Vec<u8> {
        let Some(stride) = self.stride else {
            return stream;
        };
        let mut p = Vec::with_capacity(STRIDE_PREFIX_LEN + stream.len());
        p.extend_from_slice(&stride.to_le_bytes());
        p.extend_from_slice(&stream);
        p
    }

    /// The mixing and range-coded stream of a chunk payload of `codec`, or
    /// why it is invalid (not a neural codec, or no valid stride prefix).
    pub fn from_payload(codec: Codec, payload: &[u8]) -> Result<(Self, &[u8]), String> {
        let spec = codec.spec();
        if spec.recipe.is_none() {
            return Err(format!("codec {} is not a neural codec", spec.name));
        }
        if !spec.needs_stride() {
            return Ok((
                Self {
                    codec,
                    stride: None,
                },
                payload,
            ));
        }
        let Some((prefix, rest)) = payload.split_first_chunk::<STRIDE_PREFIX_LEN>() else {
            return Err("payload too short for its record stride".into());
        };
        let stride = u32::from_le_bytes(*prefix);
        if !(MIN_RECORD_STRIDE..=MAX_RECORD_STRIDE).contains(&stride) {
            return Err(format!(
                "record stride {stride} outside {MIN_RECORD_STRIDE}..={MAX_RECORD_STRIDE}"
            ));
        }
        Ok((
            Self {
                codec,
                stride: Some(stride),
            },
            rest,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_names_are_unique_and_in_order() {
        for (i, c) in CODECS.iter().enumerate() {
            assert_eq!(usize::from(c.codec.id()), i);
            assert_eq!(Codec::from_id(c.codec.id()), Some(c.codec));
            assert_eq!(Codec::ALL[i], c.codec);
            assert!(c.min_format_version >= 1);
        }
        assert_eq!(Codec::from_id(CODECS.len() as u8), None);
        let names: HashSet<_> = CODECS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CODECS.len());
        // Format versions never go down along the table: a new codec comes
        // with the same or a newer version.
        assert!(
            CODECS
                .windows(2)
                .all(|w| w[0].min_format_version <= w[1].min_format_version)
        );
        assert_eq!(
            CODECS.iter().map(|c| c.min_format_version).max(),
            Some(crate::container::FORMAT_VERSION_NEWEST)
        );
    }

    /// Every neural codec has its own recipe, no stage twice, and
    /// [`Mixing::richest`] reaches it (from exactly its stages), with a unique
    /// richest codec for every set of allowed stages.
    #[test]
    fn recipes_are_distinct_and_reachable() {
        let recipes: Vec<_> = CODECS.iter().filter_map(|c| c.recipe).collect();
        let distinct: HashSet<_> = recipes.iter().collect();
        assert_eq!(distinct.len(), recipes.len());
        for c in &CODECS {
            let Some(r) = c.recipe else { continue };
            let stages: HashSet<_> = r.iter().collect();
            assert_eq!(stages.len(), r.len(), "{}", c.name);
            let stride = c.needs_stride().then_some(24);
            let m = Mixing::richest(|s| r.contains(&s), stride);
            assert_eq!(m, Mixing::new(c.codec, stride).unwrap());
        }
        for mask in 0..1u32 << Stage::ALL.len() {
            let allowed =
                |s: Stage| mask & (1 << Stage::ALL.iter().position(|&x| x == s).unwrap()) != 0;
            for stride in [None, Some(24)] {
                let best = Mixing::richest(allowed, stride);
                let n = best.recipe().len();
                let ties = CODECS
                    .iter()
                    .filter(|c| c.needs_stride() == stride.is_some())
                    .filter_map(|c| c.recipe)
                    .filter(|r| r.len() == n && r.iter().all(|&s| allowed(s)))
                    .count();
                assert!(ties <= 1, "mask {mask:b}: {ties} richest codecs");
            }
        }
    }

    /// Framing a stream and reading it back gives the same mixing and stream
    /// for every neural codec; the others are refused.
    #[test]
    fn from_payload_inverts_frame() {
        for c in &CODECS {
            let stride = c.needs_stride().then_some(300);
            let Ok(m) = Mixing::new(c.codec, stride) else {
                assert!(!c.codec.is_neural());
                assert!(Mixing::from_payload(c.codec, &[1, 2, 3, 4, 5]).is_err());
                continue;
            };
            assert_eq!(m.codec(), c.codec);
            let payload = m.frame(vec![7, 8, 9]);
            assert_eq!(
                Mixing::from_payload(c.codec, &payload),
                Ok((m, &[7u8, 8, 9][..]))
            );
            assert!(Mixing::new(c.codec, stride.xor(Some(5))).is_err());
        }
    }
}
