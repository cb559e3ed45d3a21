//! Renders MapLibre glyph ranges (`{start}-{end}.pbf`, 256 codepoints each, SDF at 24 px with
//! radius 8 and cutoff 0.25: the node-fontnik conventions) from one face of a font file.
//!
//! Usage: `wangge-glyphs FONT_FILE FACE_INDEX OUT_DIR [START…]`
//!
//! With START arguments (multiples of 256) only those ranges are written; without, every range in
//! which the font has a glyph.
//!
//! Codepoints that MapLibre GL JS always draws in the browser with a local font (CJK ideographs,
//! kana, Hangul, CJK punctuation, full-width forms: its `localIdeographFontFamily` set) are left
//! out, and a range is written only when the font has at least one other glyph in it. That keeps
//! the committed files small while every Latin letter, digit and symbol in a Chinese place name
//! ("民情责任田01", "A座", "①", "℃") comes from the server.

use pbf_font_tools::freetype::Library;
use pbf_font_tools::{Glyphs, glyph_range_for_face};
use prost::Message;
use std::path::PathBuf;

/// MapLibre GL JS 6's `codePointUsesLocalIdeographFontFamily`, Basic Multilingual Plane part.
const LOCAL: &[(u32, u32)] = &[
    (0x02EA, 0x02EB),
    (0x1100, 0x11FF),
    (0x2E80, 0x2FDF),
    (0x3000, 0x30FF),
    (0x3105, 0x312F),
    (0x3131, 0x318E),
    (0x31A0, 0x4DBF),
    (0x4E00, 0xA48C),
    (0xA490, 0xA4C6),
    (0xA960, 0xA97C),
    (0xAC00, 0xD7C6),
    (0xD7CB, 0xD7FB),
    (0xF900, 0xFA6D),
    (0xFA70, 0xFAD9),
    (0xFE10, 0xFE1F),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF),
];

fn drawn_locally(cp: u32) -> bool {
    LOCAL.iter().any(|&(a, b)| (a..=b).contains(&cp))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [font, face_index, out, starts @ ..] = args.as_slice() else {
        return Err("usage: wangge-glyphs FONT_FILE FACE_INDEX OUT_DIR [START…]".into());
    };
    let starts: Vec<u32> = if starts.is_empty() {
        (0u32..0x10000).step_by(256).collect()
    } else {
        let starts = starts
            .iter()
            .map(|s| s.parse::<u32>())
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(bad) = starts.iter().find(|s| *s % 256 != 0) {
            return Err(format!("{bad} is not a multiple of 256").into());
        }
        starts
    };
    let lib = Library::init()?;
    let face = lib.new_face(font, face_index.parse()?)?;
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let (mut files, mut glyphs, mut bytes) = (0, 0, 0);
    for start in starts {
        let end = start + 255;
        if (start..=end).all(drawn_locally) {
            continue;
        }
        let mut stack = glyph_range_for_face(&face, start, end, 24, 8, 0.25)?;
        stack.glyphs.retain(|g| !drawn_locally(g.id));
        if stack.glyphs.is_empty() {
            continue;
        }
        glyphs += stack.glyphs.len();
        let encoded = Glyphs {
            stacks: vec![stack],
        }
        .encode_to_vec();
        bytes += encoded.len();
        files += 1;
        std::fs::write(out.join(format!("{start}-{end}.pbf")), encoded)?;
    }
    println!(
        "{files} ranges, {glyphs} glyphs, {bytes} bytes written to {}",
        out.display()
    );
    Ok(())
}
