//! The analysis as an SVG chart: one row per group, one bar per codec, the
//! bars' length its bits per byte, and the share of the first codec's bits
//! written beside. Plain SVG written by hand: bars and text need no plotting
//! library, and no font has to be found on the machine that draws it (the
//! viewer lays the text out).

use super::Analysis;
use super::report::shown_groups;
use std::fmt::Write;

/// Colours of the codecs' bars, in order (colour-blind safe, Okabe-Ito).
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart of at most `top` groups (as the terminal table shows them).
pub fn to_svg(a: &Analysis, top: usize) -> String {
    let shown = shown_groups(a, top);
    let n_codecs = a.codecs.len().max(1);
    let bar_h = 9.0;
    let row_h = bar_h * n_codecs as f64 + 8.0;
    let label_w = 230.0;
    let plot_w = 520.0;
    let right_w = 70.0;
    let top_h = 62.0 + 16.0 * a.codecs.len() as f64;
    let bottom_h = 40.0;
    let width = label_w + plot_w + right_w;
    let height = top_h + row_h * shown.len() as f64 + bottom_h;
    let bpb = |c: usize, g: usize| {
        if a.group_bytes[g] == 0 {
            0.0
        } else {
            a.codecs[c].group_bits[g] / a.group_bytes[g] as f64
        }
    };
    let max_bpb = (0..a.codecs.len())
        .flat_map(|c| shown.iter().map(move |&g| (c, g)))
        .map(|(c, g)| bpb(c, g))
        .fold(1.0f64, f64::max)
        .ceil();
    let x_of = |v: f64| label_w + plot_w * v / max_bpb;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">Where the bits go: {} ({} bytes)</text>"#,
        escape(&a.name),
        a.input_len
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="38">{}; bars: bits per byte of each group, text: share of {}'s bits</text>"#,
        escape(&a.layout.describe()),
        escape(a.codecs.first().map_or("", |c| c.name.as_str()))
    );
    for (c, codec) in a.codecs.iter().enumerate() {
        let y = 50.0 + 16.0 * c as f64;
        let how = match codec.attribution {
            super::Attribution::PerByte => "bars: each byte's cost in that archive",
            super::Attribution::GroupAlone => "bars: each group compressed alone",
        };
        let _ = writeln!(
            s,
            r#"<rect x="10" y="{y:.1}" width="12" height="10" fill="{}"/><text x="28" y="{:.1}">{}: {:.3} bits/byte on the whole file; {how}</text>"#,
            COLOURS[c % COLOURS.len()],
            y + 9.0,
            escape(&codec.name),
            8.0 * codec.archive_len as f64 / a.input_len.max(1) as f64,
        );
    }
    // Grid lines at every bit per byte.
    let grid_bottom = top_h + row_h * shown.len() as f64;
    for v in 0..=(max_bpb as u32) {
        let x = x_of(f64::from(v));
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{top_h:.1}" x2="{x:.1}" y2="{grid_bottom:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{v}</text>"##,
            grid_bottom + 14.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">bits per byte</text>"#,
        label_w + plot_w / 2.0,
        grid_bottom + 30.0
    );
    let first_total = a.codecs.first().map_or(0.0, |c| c.total_bits());
    for (row, &g) in shown.iter().enumerate() {
        let y0 = top_h + row_h * row as f64 + 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y0 + bar_h * n_codecs as f64 / 2.0 + 4.0,
            escape(&a.group_names[g])
        );
        for c in 0..a.codecs.len() {
            let y = y0 + bar_h * c as f64;
            let w = x_of(bpb(c, g)) - label_w;
            let _ = writeln!(
                s,
                r#"<rect x="{label_w:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}: {:.3} bits/byte</title></rect>"#,
                bar_h - 1.0,
                COLOURS[c % COLOURS.len()],
                escape(&a.codecs[c].name),
                bpb(c, g)
            );
        }
        if let Some(first) = a.codecs.first() {
            let share = if first_total > 0.0 {
                100.0 * first.group_bits[g] / first_total
            } else {
                0.0
            };
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">{share:.1}%</text>"#,
                label_w + plot_w + 6.0,
                y0 + bar_h * n_codecs as f64 / 2.0 + 4.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
