#!/usr/bin/env bash
# Regenerates web-map/glyphs/: the SDF glyph ranges (MapLibre "glyphs" PBFs) that the server
# serves at /glyphs/{fontstack}/{range}.pbf for the map's labels. Run once after changing the
# font; the output is committed, so neither CI nor a user needs this script.
#
# The fonts are Noto Sans CJK SC Regular and Bold from Debian's fonts-noto-cjk (SIL Open Font License 1.1),
# face 2 of NotoSansCJK-{Regular,Bold}.ttc. The renderer is tools/glyphs (Rust, FreeType via the
# pbf_font_tools crate), which leaves out the CJK characters MapLibre always draws in the browser.
set -euo pipefail
cd "$(dirname "$0")/.."

FONTS=/usr/share/fonts/opentype/noto
FACE=2 # Noto Sans CJK SC in each .ttc (fc-query lists the faces)
# The ranges a Chinese place name or address may need besides CJK: Basic Latin and Latin-1 (digits,
# letters, ·), Latin Extended-A/B (pinyin tone marks), General Punctuation (— … ‧ ※), Letterlike
# Symbols and Number Forms (№ ℃ Ⅰ–Ⅻ ←), Enclosed Alphanumerics (① ⑴ ⒈). Any other range is
# answered 404 and MapLibre then draws those characters with the browser's fonts.
RANGES="0 256 8192 8448 9216"

if [ ! -f "$FONTS/NotoSansCJK-Regular.ttc" ]; then
  echo "installing fonts-noto-cjk" >&2
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-noto-cjk
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/wangge-glyphs-target}
cargo build --release --locked --manifest-path tools/glyphs/Cargo.toml
for weight in Regular Bold; do
  name="Noto Sans CJK SC"
  [ "$weight" = Regular ] || name="$name $weight"
  rm -rf "glyphs/$name"
  # shellcheck disable=SC2086 # RANGES is a list
  "$CARGO_TARGET_DIR/release/wangge-glyphs" "$FONTS/NotoSansCJK-$weight.ttc" "$FACE" "glyphs/$name" $RANGES
done
cp /usr/share/doc/fonts-noto-cjk/copyright glyphs/LICENSE-fonts-noto-cjk.txt
