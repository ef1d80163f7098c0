//! Compression levels: each number is a frozen preset (codec family, profile
//! or model, chunk length), so `-N` writes the same bytes in every release.
//! A preset that must change becomes a new level; the archive records what
//! the decoder needs, so decoding never takes a level. `docs/MODELS.md`,
//! "Levels", lists them with their measured ratio and speed.
//!
//! Levels 1 to 3 are the context-mixing codec ([`crate::cm`]): about three
//! to five times the network's speed, better than `xz -9` on HEP text and
//! tables. Level 4 is the network with its secondary models, the default.
//! Level 5 joins the two: the network's mixed table is one input of the
//! context mixer, which codes each byte bit by bit. Level 6 adds the
//! kinematic model ([`crate::cm::kinematics`]) to that mixer on text of
//! fields (codec 13), level 7 the counting-field model
//! ([`crate::cm::counting`]) as well (codec 14), and on tables of records
//! the column models (codec 15). Level 8 makes that mixer the wide mixer
//! (codecs 16 and 17): strided contexts for the numbers of tables, longer
//! contexts and a mixer selected by field for text. Level 9 adds the
//! relation model ([`crate::cm::relations`]) on tables of records (codec
//! 18): a float column that is the sum, difference or copy of columns
//! before it in its record.
#![deny(clippy::float_arithmetic)]

use crate::cm::{self, FieldModels, Profile};
use crate::compress::CompressOptions;
use crate::model::Model;

/// What a level codes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The context-mixing codec in this profile, in chunks of this length.
    ContextMixing {
        profile: &'static Profile,
        chunk_len: u32,
    },
    /// The network and its secondary models, as `compress` with no options:
    /// [`CompressOptions::for_model`].
    Network,
    /// The network and its secondary models, with the mixed table coded bit
    /// by bit by the context mixer (the `+cm` codecs), in chunks of this
    /// length; with the field models `fields` (the kinematic model: codec 13
    /// on text of fields; with the counting-field model: codec 14; the
    /// column models: codec 15 on tables of records); the wide mixer if
    /// `wide_mixer` (codecs 16 and 17).
    NetworkContextMixing {
        chunk_len: u32,
        fields: FieldModels,
        wide_mixer: bool,
        /// The codec trial codes 64 KiB rather than the whole first chunk
        /// ([`CompressOptions::short_trial`]).
        short_trial: bool,
    },
}

/// One row of [`LEVELS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub number: u8,
    pub preset: Preset,
}

/// Chunks of the context-mixing levels: 1 MiB, long enough for its contexts
/// to learn, short enough for every thread to get work on a few MiB.
pub const CM_CHUNK_LEN: u32 = 1 << 20;

/// Every defined level, in order.
pub const LEVELS: [Level; 9] = [
    Level {
        number: 1,
        preset: Preset::ContextMixing {
            profile: &cm::PROFILES[0],
            chunk_len: CM_CHUNK_LEN,
        },
    },
    Level {
        number: 2,
        preset: Preset::ContextMixing {
            profile: &cm::PROFILES[1],
            chunk_len: CM_CHUNK_LEN,
        },
    },
    Level {
        number: 3,
        preset: Preset::ContextMixing {
            profile: &cm::PROFILES[2],
            chunk_len: CM_CHUNK_LEN,
        },
    },
    Level {
        number: 4,
        preset: Preset::Network,
    },
    Level {
        number: 5,
        preset: Preset::NetworkContextMixing {
            chunk_len: CM_CHUNK_LEN,
            fields: FieldModels {
                kinematics: false,
                counting: false,
                columns: false,
                relations: false,
            },
            wide_mixer: false,
            short_trial: false,
        },
    },
    Level {
        number: 6,
        preset: Preset::NetworkContextMixing {
            chunk_len: CM_CHUNK_LEN,
            fields: FieldModels {
                kinematics: true,
                counting: false,
                columns: false,
                relations: false,
            },
            wide_mixer: false,
            short_trial: false,
        },
    },
    Level {
        number: 7,
        preset: Preset::NetworkContextMixing {
            chunk_len: CM_CHUNK_LEN,
            fields: FieldModels {
                kinematics: true,
                counting: true,
                columns: true,
                relations: false,
            },
            wide_mixer: false,
            short_trial: false,
        },
    },
    Level {
        number: 8,
        preset: Preset::NetworkContextMixing {
            chunk_len: CM_CHUNK_LEN,
            fields: FieldModels {
                kinematics: true,
                counting: true,
                columns: true,
                relations: false,
            },
            wide_mixer: true,
            short_trial: false,
        },
    },
    Level {
        number: 9,
        preset: Preset::NetworkContextMixing {
            chunk_len: CM_CHUNK_LEN,
            fields: FieldModels {
                kinematics: true,
                counting: true,
                columns: true,
                relations: true,
            },
            wide_mixer: true,
            short_trial: true,
        },
    },
];

/// The level `compress` uses without one: today's default archive bytes.
pub const DEFAULT_LEVEL: u8 = 4;
/// `--fast`: the fastest level.
pub const FASTEST_LEVEL: u8 = 1;
/// `--best`: the strongest level that exists (it moves up as stronger
/// presets are added; the numbered levels never change).
pub const BEST_LEVEL: u8 = 9;

/// The level numbered `n`, or why there is none.
pub fn level(n: u8) -> Result<&'static Level, String> {
    LEVELS.iter().find(|l| l.number == n).ok_or_else(|| {
        format!(
            "level {n} is not defined: the levels are 1 to {} (docs/MODELS.md, \"Levels\"); \
             --fast is {FASTEST_LEVEL}, --best {BEST_LEVEL}",
            LEVELS.len()
        )
    })
}

impl Level {
    /// A short description for `-v` and the bench.
    pub fn describe(&self) -> String {
        match self.preset {
            Preset::ContextMixing { profile, .. } => format!("cm profile {}", profile.name),
            Preset::Network => "network".into(),
            Preset::NetworkContextMixing {
                fields, wide_mixer, ..
            } => {
                let mut d = String::from("network and cm");
                let named = [
                    (fields.kinematics, "the kinematic model"),
                    (fields.counting, "the counting-field model"),
                    (fields.columns, "the column models"),
                    (wide_mixer, "the wide mixer"),
                    (fields.relations, "the relation model"),
                ];
                let models: Vec<&str> = named.iter().filter(|m| m.0).map(|m| m.1).collect();
                if !models.is_empty() {
                    d += " with ";
                    d += &models.join(", ");
                }
                d
            }
        }
    }

    /// The options that write this level with `model` (the model the archive
    /// names; the network levels code with it).
    pub fn options(&self, model: &Model) -> CompressOptions {
        match self.preset {
            Preset::ContextMixing { profile, chunk_len } => CompressOptions {
                chunk_len,
                context_mixing: Some(profile),
                ..CompressOptions::for_model(model)
            },
            Preset::Network => CompressOptions::for_model(model),
            Preset::NetworkContextMixing {
                chunk_len,
                fields,
                wide_mixer,
                short_trial,
            } => CompressOptions {
                chunk_len,
                network_context_mixing: true,
                kinematics: fields.kinematics,
                counting: fields.counting,
                column_models: fields.columns,
                wide_mixer,
                relations: fields.relations,
                short_trial,
                ..CompressOptions::for_model(model)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_numbered_in_order_and_named_ones_exist() {
        for (k, l) in LEVELS.iter().enumerate() {
            assert_eq!(usize::from(l.number), k + 1);
            assert_eq!(level(l.number), Ok(l));
        }
        for n in [DEFAULT_LEVEL, FASTEST_LEVEL, BEST_LEVEL] {
            assert!(level(n).is_ok());
        }
        assert!(level(0).is_err());
        assert!(level(10).unwrap_err().contains("not defined"));
        // Each context-mixing profile is one level's.
        for (k, p) in cm::PROFILES.iter().enumerate() {
            assert!(matches!(
                LEVELS[k].preset,
                Preset::ContextMixing { profile, .. } if std::ptr::eq(profile, p)
            ));
        }
    }
}
