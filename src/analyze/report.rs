//! The analysis as a terminal table or JSON.

use super::{Analysis, Attribution, Layout};
use std::fmt::Write;

fn per_byte(bits: f64, bytes: u64) -> f64 {
    if bytes == 0 { 0.0 } else { bits / bytes as f64 }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// The line type of a text group's name (`P: px` -> `P`).
fn line_type(name: &str) -> &str {
    name.split_once(": ").map_or(name, |(k, _)| k)
}

/// The groups to show when at most `top` fit, in reading order: the `top`
/// costliest (under the first codec), then for a table in column order, for
/// text by line type (costliest first) and field.
pub fn shown_groups(a: &Analysis, top: usize) -> Vec<usize> {
    let cost = |g: usize| {
        a.codecs
            .first()
            .map_or(a.group_bytes[g] as f64, |c| c.group_bits[g])
    };
    let mut by_cost: Vec<usize> = (0..a.group_names.len()).collect();
    by_cost.sort_by(|&x, &y| cost(y).total_cmp(&cost(x)).then(x.cmp(&y)));
    by_cost.truncate(top);
    match a.layout {
        Layout::Table(_) => by_cost.sort_unstable(),
        Layout::Text(_) => {
            let mut type_cost: std::collections::HashMap<&str, f64> = Default::default();
            for g in 0..a.group_names.len() {
                *type_cost.entry(line_type(&a.group_names[g])).or_default() += cost(g);
            }
            by_cost.sort_by(|&x, &y| {
                let (tx, ty) = (line_type(&a.group_names[x]), line_type(&a.group_names[y]));
                type_cost[ty]
                    .total_cmp(&type_cost[tx])
                    .then(tx.cmp(ty))
                    .then(x.cmp(&y))
            });
        }
    }
    by_cost
}

/// The float columns of a table (with the widths whose low bytes are
/// mantissa: 4 and 8), as column indices.
pub fn float_columns(a: &Analysis) -> Vec<usize> {
    match &a.layout {
        Layout::Table(t) => (0..t.columns.len())
            .filter(|&k| t.columns[k].is_float() && matches!(t.columns[k].width, 4 | 8))
            .collect(),
        Layout::Text(_) => Vec::new(),
    }
}

/// The report as a terminal table, at most `top` groups.
pub fn to_table(a: &Analysis, top: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({} bytes)", a.name, a.input_len);
    let _ = writeln!(s, "layout: {}", a.layout.describe());
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<16} {:>14} {:>8} {:>10}  how the groups are measured",
        "codec", "archive bytes", "ratio", "bits/byte"
    );
    for c in &a.codecs {
        let how = match c.attribution {
            Attribution::PerByte => "each byte's cost in the archive".to_string(),
            Attribution::GroupAlone => format!(
                "each group compressed alone ({:.0} bytes in all)",
                c.total_bits() / 8.0
            ),
        };
        let _ = writeln!(
            s,
            "{:<16} {:>14} {:>8.3} {:>10.3}  {how}",
            c.name,
            c.archive_len,
            a.input_len as f64 / c.archive_len.max(1) as f64,
            8.0 * c.archive_len as f64 / a.input_len.max(1) as f64,
        );
    }
    let _ = writeln!(s);
    let name_w = a
        .group_names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 32);
    let _ = write!(s, "{:<name_w$} {:>10} {:>6}", "group", "bytes", "% in");
    for c in &a.codecs {
        let _ = write!(s, " | {:>17}", truncate(&c.name, 17));
    }
    let _ = writeln!(s);
    let _ = write!(s, "{:<name_w$} {:>10} {:>6}", "", "", "");
    for _ in &a.codecs {
        let _ = write!(s, " | {:>8} {:>8}", "bits/B", "% bits");
    }
    let _ = writeln!(s);
    let shown = shown_groups(a, top);
    let totals: Vec<f64> = a.codecs.iter().map(|c| c.total_bits()).collect();
    for &g in &shown {
        let _ = write!(
            s,
            "{:<name_w$} {:>10} {:>6.2}",
            truncate(&a.group_names[g], name_w),
            a.group_bytes[g],
            percent(a.group_bytes[g] as f64, a.input_len as f64)
        );
        for (c, &t) in a.codecs.iter().zip(&totals) {
            let _ = write!(
                s,
                " | {:>8.3} {:>8.2}",
                per_byte(c.group_bits[g], a.group_bytes[g]),
                percent(c.group_bits[g], t)
            );
        }
        let _ = writeln!(s);
    }
    let hidden = a.group_names.len() - shown.len();
    if hidden > 0 {
        let bytes: u64 = (0..a.group_names.len())
            .filter(|g| !shown.contains(g))
            .map(|g| a.group_bytes[g])
            .sum();
        let _ = write!(
            s,
            "{:<name_w$} {:>10} {:>6.2}",
            format!("({hidden} more)"),
            bytes,
            percent(bytes as f64, a.input_len as f64)
        );
        for (c, &t) in a.codecs.iter().zip(&totals) {
            let bits: f64 = (0..a.group_names.len())
                .filter(|g| !shown.contains(g))
                .map(|g| c.group_bits[g])
                .sum();
            let _ = write!(
                s,
                " | {:>8.3} {:>8.2}",
                per_byte(bits, bytes),
                percent(bits, t)
            );
        }
        let _ = writeln!(s);
    }
    s.push_str(&mantissa_table(a, top));
    s
}

fn truncate(name: &str, w: usize) -> String {
    if name.chars().count() <= w {
        name.to_string()
    } else {
        let mut t: String = name.chars().take(w.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

/// What the lowest two mantissa bytes of each float column cost, under each
/// per-byte codec: what dropping precision would save at most.
fn mantissa_table(a: &Analysis, top: usize) -> String {
    let floats = float_columns(a);
    let Layout::Table(t) = &a.layout else {
        return String::new();
    };
    let mut s = String::new();
    for c in a.codecs.iter().filter(|c| c.lane_bits.is_some()) {
        let Some(lanes) = &c.lane_bits else { continue };
        if floats.is_empty() {
            continue;
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Lowest mantissa bytes of the float columns under {} (byte 0 is the lowest; \
             what a byte costs is the most that zeroing it can save):",
            c.name
        );
        let name_w = floats
            .iter()
            .map(|&k| t.columns[k].name.len())
            .max()
            .unwrap_or(6)
            .clamp(6, 32);
        let _ = writeln!(
            s,
            "{:<name_w$} {:>10} {:>10} {:>12} {:>14}",
            "column", "byte 0 b/B", "byte 1 b/B", "% of column", "byte 0 costs"
        );
        let shown: Vec<usize> = shown_groups(a, top)
            .into_iter()
            .filter(|k| floats.contains(k))
            .collect();
        let records = a.group_bytes[floats[0]] / t.columns[floats[0]].width as u64;
        let (mut low0, mut low1) = (0f64, 0f64);
        for &k in &floats {
            low0 += lanes[k][0];
            low1 += lanes[k][1];
        }
        for &k in &shown {
            let n = (a.group_bytes[k] / t.columns[k].width as u64).max(1) as f64;
            let col_bits: f64 = lanes[k].iter().sum();
            let _ = writeln!(
                s,
                "{:<name_w$} {:>10.3} {:>10.3} {:>11.1}% {:>14}",
                truncate(&t.columns[k].name, name_w),
                lanes[k][0] / n,
                lanes[k][1] / n,
                percent(lanes[k][0] + lanes[k][1], col_bits),
                human_bytes(lanes[k][0] / 8.0)
            );
        }
        let _ = writeln!(
            s,
            "all {} float columns ({} records): byte 0 costs {} ({:.1}% of the archive), bytes 0 and 1 {} ({:.1}%)",
            floats.len(),
            records,
            human_bytes(low0 / 8.0),
            percent(low0 / 8.0, c.archive_len as f64),
            human_bytes((low0 + low1) / 8.0),
            percent((low0 + low1) / 8.0, c.archive_len as f64),
        );
    }
    s
}

fn human_bytes(b: f64) -> String {
    if b >= 10.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 10.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// The report as JSON: every group, every codec, and for tables every
/// column's bits per byte position.
pub fn to_json(a: &Analysis) -> serde_json::Value {
    use serde_json::json;
    let codecs: Vec<_> = a
        .codecs
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "archive_bytes": c.archive_len,
                "bits_per_byte": 8.0 * c.archive_len as f64 / a.input_len.max(1) as f64,
                "groups_measured": match c.attribution {
                    Attribution::PerByte => "per_byte",
                    Attribution::GroupAlone => "group_alone",
                },
                "group_bits_total": c.total_bits(),
            })
        })
        .collect();
    let groups: Vec<_> = (0..a.group_names.len())
        .map(|g| {
            let per_codec: serde_json::Map<String, serde_json::Value> = a
                .codecs
                .iter()
                .map(|c| {
                    let mut v = json!({
                        "bits": c.group_bits[g],
                        "bits_per_byte": per_byte(c.group_bits[g], a.group_bytes[g]),
                        "share": c.group_bits[g] / c.total_bits().max(f64::MIN_POSITIVE),
                    });
                    if let (Some(l), Layout::Table(t)) = (&c.lane_bits, &a.layout)
                        && g < t.columns.len()
                    {
                        v["byte_bits"] = json!(l[g]);
                    }
                    (c.name.clone(), v)
                })
                .collect();
            let mut v = json!({
                "name": a.group_names[g],
                "bytes": a.group_bytes[g],
                "codecs": per_codec,
            });
            if let Layout::Table(t) = &a.layout
                && let Some(col) = t.columns.get(g)
            {
                v["dtype"] = json!(col.dtype);
                v["width"] = json!(col.width);
            }
            v
        })
        .collect();
    json!({
        "file": a.name,
        "bytes": a.input_len,
        "layout": a.layout.describe(),
        "codecs": codecs,
        "groups": groups,
    })
}
