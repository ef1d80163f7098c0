//! How `boa-det analyze` splits an input into the parts it reports: the
//! columns of a fixed-width table, or the line types and fields of text
//! (HepMC, LHE, CSV and other whitespace- or comma-separated text).
//!
//! Each byte belongs to exactly one group, so the groups' bits add up to the
//! file's.

use std::collections::HashMap;

/// One column of a table record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The numpy-style type (`f4`, `i4`, `u4`, `f8`), if known.
    pub dtype: Option<String>,
    /// Its first byte within the record.
    pub offset: usize,
    pub width: usize,
}

impl Column {
    /// Whether the column holds little-endian IEEE-754 floats, whose first
    /// bytes are the lowest of the mantissa (unknown types count as floats:
    /// the report then says what the low bytes cost, whatever they hold).
    pub fn is_float(&self) -> bool {
        self.dtype
            .as_deref()
            .is_none_or(|d| d.trim_start_matches(['<', '=']).starts_with('f'))
    }
}

/// A fixed-width table: `header` bytes, then records of `record` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLayout {
    pub header: usize,
    pub record: usize,
    /// The columns in record order, covering the record exactly.
    pub columns: Vec<Column>,
}

impl TableLayout {
    /// Records of `record` bytes cut into `word`-byte columns (a last, shorter
    /// one if `word` does not divide it), named `col 1`, `col 2`, ...
    pub fn uniform(header: usize, record: usize, word: usize) -> TableLayout {
        let word = word.clamp(1, record.max(1));
        let columns = (0..record.div_ceil(word))
            .map(|k| Column {
                name: format!("col {}", k + 1),
                dtype: None,
                offset: k * word,
                width: word.min(record - k * word),
            })
            .collect();
        TableLayout {
            header,
            record,
            columns,
        }
    }

    /// For each byte of a record, its column and its byte within the column.
    pub fn byte_positions(&self) -> Vec<(usize, usize)> {
        let mut at = vec![(0, 0); self.record.max(1)];
        for (k, c) in self.columns.iter().enumerate() {
            for l in 0..c.width {
                at[c.offset + l] = (k, l);
            }
        }
        at
    }

    /// The columns of `names` (name and optional dtype), each `word` bytes.
    pub fn named(header: usize, word: usize, names: Vec<(String, Option<String>)>) -> TableLayout {
        let columns: Vec<Column> = names
            .into_iter()
            .enumerate()
            .map(|(k, (name, dtype))| Column {
                name,
                dtype,
                offset: k * word,
                width: word,
            })
            .collect();
        TableLayout {
            header,
            record: columns.len() * word,
            columns,
        }
    }
}

/// How fields of text lines are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// Runs of spaces and tabs (HepMC, LHE).
    Whitespace,
    /// Commas, with a header line naming the fields (CSV).
    Comma,
}

/// What the input is, for grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Table(TableLayout),
    Text(Separator),
}

impl Layout {
    /// A one-line description for the report.
    pub fn describe(&self) -> String {
        match self {
            Layout::Table(t) => format!(
                "table: {} columns, records of {} bytes{}",
                t.columns.len(),
                t.record,
                if t.header > 0 {
                    format!(" after a {}-byte header", t.header)
                } else {
                    String::new()
                }
            ),
            Layout::Text(Separator::Whitespace) => {
                "text: line types and whitespace-separated fields".into()
            }
            Layout::Text(Separator::Comma) => "text: CSV columns".into(),
        }
    }
}

/// Whether `data` reads as text: its first 64 KiB are printable ASCII,
/// tabs and line ends, but for at most 1 %.
pub fn looks_like_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(64 << 10)];
    let odd = head
        .iter()
        .filter(|&&b| {
            !(b.is_ascii_graphic() || b == b' ' || b == b'\t' || b == b'\n' || b == b'\r')
        })
        .count();
    !head.is_empty() && odd * 100 <= head.len()
}

/// The text separator of `data`: commas if its first line has at least two
/// and no spaces, else whitespace.
pub fn text_separator(data: &[u8]) -> Separator {
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let commas = first.iter().filter(|&&b| b == b',').count();
    if commas >= 2 && !first.contains(&b' ') {
        Separator::Comma
    } else {
        Separator::Whitespace
    }
}

/// The layout of a `.npy` file (version 1 to 3, C order, a plain or a
/// structured dtype of fixed-width fields), or `None` if `data` is not one.
pub fn npy_layout(data: &[u8]) -> Option<TableLayout> {
    let rest = data.strip_prefix(b"\x93NUMPY")?;
    let (major, rest) = rest.split_first()?;
    let (_, rest) = rest.split_first()?;
    let (header_len, offset): (usize, usize) = match major {
        1 => (
            usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?])),
            10,
        ),
        2 | 3 => (
            u32::from_le_bytes([*rest.first()?, *rest.get(1)?, *rest.get(2)?, *rest.get(3)?])
                as usize,
            12,
        ),
        _ => return None,
    };
    let header = std::str::from_utf8(data.get(offset..offset.checked_add(header_len)?)?).ok()?;
    if header.contains("'fortran_order': True") {
        return None;
    }
    let descr_at = header.find("'descr':")? + "'descr':".len();
    let descr = header[descr_at..].trim_start();
    let mut fields = Vec::new();
    if descr.starts_with('[') {
        // [('px', '<f4'), ('py', '<f4'), ...]
        let list = &descr[1..descr.find(']')?];
        for item in list.split('(').skip(1) {
            let parts: Vec<&str> = item.split('\'').collect();
            fields.push((parts.get(1)?.to_string(), parts.get(3)?.to_string()));
        }
    } else {
        let ty = descr.split('\'').nth(1)?.to_string();
        // A plain array: its last axis is the record.
        let shape_at = header.find("'shape':")? + "'shape':".len();
        let shape = &header[shape_at..];
        let dims: Vec<usize> = shape[shape.find('(')? + 1..shape.find(')')?]
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect();
        let cols = if dims.len() >= 2 { *dims.last()? } else { 1 };
        fields = (0..cols)
            .map(|k| (format!("col {}", k + 1), ty.clone()))
            .collect();
    }
    let mut columns = Vec::new();
    let mut at = 0usize;
    for (name, ty) in fields {
        let width: usize = ty
            .trim_start_matches(['<', '>', '=', '|'])
            .get(1..)?
            .parse()
            .ok()?;
        if width == 0 || ty.starts_with('>') {
            return None;
        }
        columns.push(Column {
            name,
            dtype: Some(ty.trim_start_matches(['<', '=', '|']).to_string()),
            offset: at,
            width,
        });
        at += width;
    }
    (at > 0).then_some(TableLayout {
        header: offset + header_len,
        record: at,
        columns,
    })
}

/// The column names and types of a sidecar file: lines `index<TAB>name<TAB>dtype`
/// (`.columns.tsv`) or one name per line (`.columns.txt`, whose comment
/// line may say `float32`); `#` starts a comment line.
pub fn parse_columns(text: &str) -> Vec<(String, Option<String>)> {
    let float32 = text
        .lines()
        .any(|l| l.starts_with('#') && l.contains("float32"));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            match parts.as_slice() {
                [_, name, dtype, ..] => (name.trim().to_string(), Some(dtype.trim().to_string())),
                [_, name] => (name.trim().to_string(), None),
                _ => (l.trim().to_string(), float32.then(|| "f4".to_string())),
            }
        })
        .collect()
}

/// Group names and, per byte, its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    pub names: Vec<String>,
    pub of_byte: Vec<u32>,
}

/// Line types kept apart; the rest share "other lines".
const MAX_LINE_TYPES: usize = 16;
/// Fields numbered apart; later ones share the last number.
const MAX_FIELDS: usize = 24;

/// The groups of `data` under `layout`. For a table: the header (if any),
/// then one group per column (a short last record goes to its columns too).
pub fn groups(data: &[u8], layout: &Layout) -> Groups {
    match layout {
        Layout::Table(t) => table_groups(data, t),
        Layout::Text(sep) => text_groups(data, *sep),
    }
}

fn table_groups(data: &[u8], t: &TableLayout) -> Groups {
    let mut names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let header_group = names.len() as u32;
    if t.header > 0 {
        names.push("(header)".into());
    }
    let at = t.byte_positions();
    let header = t.header.min(data.len());
    let of_byte = (0..data.len())
        .map(|i| {
            if i < header {
                header_group
            } else {
                at[(i - header) % at.len()].0 as u32
            }
        })
        .collect();
    Groups { names, of_byte }
}

/// Known field names of common HEP text lines, by format and line type.
fn field_names(format: TextFormat, key: &str, fields: usize) -> Option<&'static [&'static str]> {
    const LHE_EVENT: &[&str] = &["NUP", "IDPRUP", "XWGTUP", "SCALUP", "AQEDUP", "AQCDUP"];
    const LHE_PARTICLE: &[&str] = &[
        "IDUP", "ISTUP", "MOTHUP1", "MOTHUP2", "ICOLUP1", "ICOLUP2", "px", "py", "pz", "E", "m",
        "VTIMUP", "SPINUP",
    ];
    const HEPMC3_P: &[&str] = &[
        "P", "id", "vertex", "pdg", "px", "py", "pz", "E", "m", "status",
    ];
    const HEPMC3_V: &[&str] = &["V", "id", "status", "parents", "@", "x", "y", "z", "t"];
    const HEPMC3_E: &[&str] = &[
        "E",
        "event",
        "vertices",
        "particles",
        "@",
        "x",
        "y",
        "z",
        "t",
    ];
    const HEPMC2_E: &[&str] = &[
        "E",
        "event",
        "MPI",
        "scale",
        "alpha_QCD",
        "alpha_QED",
        "process",
        "signal vertex",
        "vertices",
        "beam 1",
        "beam 2",
        "random states",
    ];
    const HEPMC2_P: &[&str] = &[
        "P",
        "barcode",
        "pdg",
        "px",
        "py",
        "pz",
        "E",
        "m",
        "status",
        "theta",
        "phi",
        "end vertex",
        "flows",
    ];
    const HEPMC2_V: &[&str] = &[
        "V", "barcode", "id", "x", "y", "z", "t", "orphans", "out", "weights",
    ];
    match (format, key) {
        (TextFormat::Lhe, _) if key.ends_with("numbers") && fields == 6 => Some(LHE_EVENT),
        (TextFormat::Lhe, _) if key.ends_with("numbers") && fields == 13 => Some(LHE_PARTICLE),
        (TextFormat::HepMc3, "P") => Some(HEPMC3_P),
        (TextFormat::HepMc3, "V") => Some(HEPMC3_V),
        (TextFormat::HepMc3, "E") => Some(HEPMC3_E),
        (TextFormat::HepMc2, "E") => Some(HEPMC2_E),
        (TextFormat::HepMc2, "P") => Some(HEPMC2_P),
        (TextFormat::HepMc2, "V") => Some(HEPMC2_V),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextFormat {
    HepMc2,
    HepMc3,
    Lhe,
    Other,
}

fn text_format(data: &[u8]) -> TextFormat {
    let head = &data[..data.len().min(4096)];
    let has = |s: &[u8]| head.windows(s.len()).any(|w| w == s);
    if has(b"HepMC::Asciiv3") {
        TextFormat::HepMc3
    } else if has(b"HepMC::IO_GenEvent") {
        TextFormat::HepMc2
    } else if has(b"<LesHouchesEvents") {
        TextFormat::Lhe
    } else {
        TextFormat::Other
    }
}

/// The byte ranges of a line's fields: each field with the separator run
/// after it (leading separators join the first field).
fn field_spans(line: &[u8], sep: Separator) -> Vec<(usize, usize)> {
    let is_sep = |b: u8| match sep {
        Separator::Whitespace => b == b' ' || b == b'\t' || b == b'\r',
        Separator::Comma => b == b',' || b == b'\r',
    };
    let mut spans = Vec::new();
    let mut i = 0;
    let mut start = 0;
    // Leading separators.
    while i < line.len() && is_sep(line[i]) {
        i += 1;
    }
    while i < line.len() {
        while i < line.len() && !is_sep(line[i]) {
            i += 1;
        }
        while i < line.len() && is_sep(line[i]) {
            i += 1;
        }
        spans.push((start, i));
        start = i;
    }
    if spans.is_empty() {
        spans.push((0, line.len()));
    }
    spans
}

/// A line's type: its first field if that starts with a letter, `<` or `#`
/// (the HepMC line letter, an LHE tag), else `N numbers`; for CSV, `header`
/// for the first line and `row` for the others.
fn line_key(line: &[u8], spans: &[(usize, usize)], sep: Separator, first: bool) -> String {
    if sep == Separator::Comma {
        return if first { "header" } else { "row" }.into();
    }
    let (a, b) = spans[0];
    let token = line[a..b].trim_ascii();
    match token.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'<' || *c == b'#' => {
            let t = &token[..token.len().min(16)];
            String::from_utf8_lossy(t).into_owned()
        }
        Some(_) => format!("{} numbers", spans.len()),
        None => "(empty)".into(),
    }
}

/// A line of text: where it starts and ends (after its line end), its
/// type and its fields' spans ([`field_spans`]).
type Line = (usize, usize, String, Vec<(usize, usize)>);

fn text_groups(data: &[u8], sep: Separator) -> Groups {
    let format = text_format(data);
    // Pass 1: each line's key and the bytes per key.
    let mut lines: Vec<Line> = Vec::new();
    let mut bytes_of: HashMap<String, usize> = HashMap::new();
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |p| start + p + 1);
        let body = &data[start..end];
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        let spans = field_spans(body, sep);
        let key = line_key(body, &spans, sep, start == 0);
        *bytes_of.entry(key.clone()).or_default() += end - start;
        lines.push((start, end, key, spans));
        start = end;
    }
    let mut keys: Vec<(&String, &usize)> = bytes_of.iter().collect();
    keys.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let kept: std::collections::HashSet<&str> = keys
        .iter()
        .take(MAX_LINE_TYPES)
        .map(|(k, _)| k.as_str())
        .collect();
    let header_names: Vec<String> = if sep == Separator::Comma {
        let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
        String::from_utf8_lossy(first)
            .trim_end()
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    } else {
        Vec::new()
    };
    // Pass 2: the group of every byte, names made on first use.
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut of_byte = vec![0u32; data.len()];
    for (start, end, key, spans) in &lines {
        let key = if kept.contains(key.as_str()) {
            key.as_str()
        } else {
            "other lines"
        };
        let known = field_names(format, key, spans.len());
        for (j, &(a, b)) in spans.iter().enumerate() {
            let k = j.min(MAX_FIELDS - 1);
            let field = match (known.and_then(|n| n.get(k)), header_names.get(k)) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) if key == "row" && !n.is_empty() => n.clone(),
                _ if k == MAX_FIELDS - 1 => format!("field {}+", k + 1),
                _ => format!("field {}", k + 1),
            };
            let name = format!("{key}: {field}");
            let next = names.len() as u32;
            let id = *ids.entry(name.clone()).or_insert_with(|| {
                names.push(name);
                next
            });
            // The line end goes with the last field.
            let b = if j + 1 == spans.len() { end - start } else { b };
            of_byte[start + a..start + b.max(a)].fill(id);
        }
    }
    Groups { names, of_byte }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_of_text_gets_its_field() {
        let data = b"HepMC::Asciiv3\nP 1 0 11 1.5 -2.5\nP 2 1 -11 3.0 4.0\n";
        let g = groups(data, &Layout::Text(Separator::Whitespace));
        let name_of = |i: usize| g.names[g.of_byte[i] as usize].as_str();
        let p = data.windows(2).position(|w| w == b"P ").unwrap();
        assert_eq!(name_of(p), "P: P");
        assert_eq!(name_of(p + 2), "P: id");
        assert_eq!(name_of(p + 6), "P: pdg");
        // The line end belongs to the last field.
        assert_eq!(name_of(p + 17), "P: py");
        assert_eq!(name_of(0), "HepMC::Asciiv3: field 1");
        assert_eq!(g.of_byte.len(), data.len());
    }

    #[test]
    fn csv_fields_take_the_header_names() {
        let data = b"run,event,pt\n1,2,3.5\n1,3,4.25\n";
        assert_eq!(text_separator(data), Separator::Comma);
        let g = groups(data, &Layout::Text(Separator::Comma));
        let name_of = |i: usize| g.names[g.of_byte[i] as usize].as_str();
        assert_eq!(name_of(0), "header: field 1");
        assert_eq!(name_of(13), "row: run");
        assert_eq!(name_of(17), "row: pt");
    }

    #[test]
    fn table_bytes_go_to_their_columns_after_the_header() {
        let t = TableLayout::named(
            2,
            4,
            vec![("a".into(), None), ("b".into(), Some("i4".into()))],
        );
        let g = groups(&[0u8; 2 + 8 * 2 + 3], &Layout::Table(t.clone()));
        assert_eq!(g.names, ["a", "b", "(header)"]);
        assert_eq!(&g.of_byte[..2], &[2, 2]);
        assert_eq!(&g.of_byte[2..10], &[0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(&g.of_byte[18..], &[0, 0, 0]);
        assert!(t.columns[0].is_float() && !t.columns[1].is_float());
    }

    #[test]
    fn npy_headers_give_the_columns() {
        let mut f = b"\x93NUMPY\x01\x00".to_vec();
        let h = "{'descr': [('px', '<f4'), ('n', '<i8')], 'fortran_order': False, 'shape': (3,), }";
        f.extend_from_slice(&(h.len() as u16).to_le_bytes());
        f.extend_from_slice(h.as_bytes());
        let t = npy_layout(&f).unwrap();
        assert_eq!(t.header, 10 + h.len());
        assert_eq!(t.record, 12);
        assert_eq!(t.columns[1].name, "n");
        assert_eq!((t.columns[1].offset, t.columns[1].width), (4, 8));
        let mut g = b"\x93NUMPY\x01\x00".to_vec();
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (10, 3), }";
        g.extend_from_slice(&(h.len() as u16).to_le_bytes());
        g.extend_from_slice(h.as_bytes());
        let t = npy_layout(&g).unwrap();
        assert_eq!((t.record, t.columns.len()), (24, 3));
        assert!(npy_layout(b"not numpy").is_none());
    }

    #[test]
    fn sidecar_columns_parse_both_forms() {
        let tsv = "# rows=2 cols=2\n0\tRun\ti4\n1\tE1\tf4\n";
        assert_eq!(parse_columns(tsv)[1], ("E1".into(), Some("f4".into())));
        let txt = "# 10 rows x 2 columns, float32 little-endian\npt\neta\n";
        assert_eq!(
            parse_columns(txt),
            vec![
                ("pt".into(), Some("f4".into())),
                ("eta".into(), Some("f4".into()))
            ]
        );
    }
}
