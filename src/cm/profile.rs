//! The frozen configurations of the context-mixing codec. A payload names
//! its profile by id; a profile's contexts and sizes never change once it
//! has shipped (a change is a new profile), so every archive keeps
//! decoding (`docs/FORMAT.md`, section 9.14.5).
#![deny(clippy::float_arithmetic)]

/// A hashed context, computed at each byte boundary from the bytes before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The last `k` bytes (`2..=8`).
    Order(u8),
    /// The current word and the byte before.
    Word,
    /// The current and the previous word.
    WordPair,
    /// The line's first byte, the field number in the line, the byte before.
    Field,
    /// The byte at the same column of the previous line, the line's first
    /// byte and the byte before.
    Above,
    /// The byte at the same column of the previous line and the column.
    AboveColumn,
    /// The column in the record and the byte one record above.
    Column,
    /// The column, the byte above and the byte before.
    ColumnLeft,
    /// The column, the bytes one and two records above.
    ColumnAbove2,
    /// The column and the two bytes before.
    ColumnLeft2,
    /// The position in a 4-byte word and the bytes 4, 8 and 12 back: the
    /// same byte of the three words before (fields of 32-bit numbers).
    Strided4,
    /// The position in an 8-byte word and the bytes 8 and 16 back (fields
    /// of 64-bit numbers).
    Strided8,
}

/// One configuration of the codec.
#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    /// The id a payload starts with; 0 for a profile that only joins the
    /// network ([`super::network`]), which no payload names.
    pub id: u8,
    /// Its name in docs and `-v`.
    pub name: &'static str,
    /// Contexts without a record stride (text and other bytes).
    pub text: &'static [Context],
    /// Contexts with a record stride.
    pub records: &'static [Context],
    /// Each hashed context's table holds at most `2^max_log2_slots` slots
    /// of 64 bytes (fewer for short chunks).
    pub max_log2_slots: u32,
    /// The mixer's learning rate.
    pub mixer_rate: i32,
    /// The minimum lengths of the short and the long match model.
    pub match_lengths: [usize; 2],
    /// Whether text (no stride) gets the field mixer: a third mixer selected
    /// by the line's kind, the field and the byte before, and a final mixer
    /// of the three in place of the average of two (codec 16).
    pub field_mixer: bool,
}

impl Profile {
    /// The contexts for input with or without records.
    pub fn contexts(&self, records: bool) -> &'static [Context] {
        if records { self.records } else { self.text }
    }
}

use Context::*;

/// Every profile, by id (`PROFILES[k].id == k + 1`).
pub static PROFILES: [Profile; 3] = [
    Profile {
        id: 1,
        name: "cm-fast",
        text: &[Order(2), Order(3), Order(4), Word, Above],
        records: &[Order(2), Column, ColumnLeft, ColumnAbove2],
        max_log2_slots: 18,
        mixer_rate: 10,
        match_lengths: [5, 16],
        field_mixer: false,
    },
    Profile {
        id: 2,
        name: "cm",
        text: &[
            Order(2),
            Order(3),
            Order(4),
            Order(6),
            Word,
            Above,
            AboveColumn,
        ],
        records: &[Order(2), Order(3), Column, ColumnLeft, ColumnAbove2],
        max_log2_slots: 18,
        mixer_rate: 10,
        match_lengths: [5, 16],
        field_mixer: false,
    },
    Profile {
        id: 3,
        name: "cm-max",
        text: &[
            Order(2),
            Order(3),
            Order(4),
            Order(5),
            Order(6),
            Order(8),
            Word,
            WordPair,
            Field,
            Above,
            AboveColumn,
        ],
        records: &[
            Order(2),
            Order(3),
            Order(4),
            Column,
            ColumnLeft,
            ColumnAbove2,
            ColumnLeft2,
        ],
        max_log2_slots: 18,
        mixer_rate: 10,
        match_lengths: [5, 16],
        field_mixer: false,
    },
];

/// The mixer joined to the network with the stage `WideMixer` (codecs 16
/// and 17, `docs/FORMAT.md` 9.19): `cm`'s contexts, then on text the
/// order-8, word-pair and field contexts, on records the column-and-two-bytes
/// context and the two strided ones; longer match models; and on text the
/// field mixer.
pub static NETWORK_WIDE: Profile = Profile {
    id: 0,
    name: "cm-net-wide",
    text: &[
        Order(2),
        Order(3),
        Order(4),
        Order(6),
        Word,
        Above,
        AboveColumn,
        Order(8),
        WordPair,
        Field,
    ],
    records: &[
        Order(2),
        Order(3),
        Column,
        ColumnLeft,
        ColumnAbove2,
        ColumnLeft2,
        Strided4,
        Strided8,
    ],
    max_log2_slots: 18,
    mixer_rate: 10,
    match_lengths: [6, 24],
    field_mixer: true,
};

/// The profile with `id`, if there is one.
pub fn by_id(id: u8) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_contexts_fit() {
        for (k, p) in PROFILES.iter().enumerate() {
            assert_eq!(usize::from(p.id), k + 1);
            assert_eq!(by_id(p.id), Some(p));
        }
        // The wide profile extends `cm`'s contexts, in their order (so
        // that each keeps its salt; docs/FORMAT.md 9.19).
        let cm = &PROFILES[1];
        assert!(NETWORK_WIDE.text.starts_with(cm.text));
        assert!(NETWORK_WIDE.records.starts_with(cm.records));
        for p in PROFILES.iter().chain([&NETWORK_WIDE]) {
            for c in [p.text, p.records] {
                assert!(c.len() <= super::super::model::MAX_CONTEXTS);
                for x in c {
                    if let Order(k) = x {
                        assert!((2..=8).contains(k));
                    }
                }
            }
        }
        assert_eq!(by_id(0), None);
    }
}
