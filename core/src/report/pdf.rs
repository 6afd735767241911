//! The PDF export of a period report (`render`): A4 or Letter pages with the summary, the
//! category charts as vector shapes, the breakdowns and every transaction, set in Liberation
//! Sans, which is compiled in and embedded as a subset with a ToUnicode map.
//!
//! The layout is done here rather than by a typesetting crate: a report is a fixed sequence of
//! blocks and tables, so measuring text with the font's advance widths is all it needs, and it
//! keeps 10,000 transactions well under a second (no shaping, one pass, one font subset).

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Timelike};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{BudgetLine, Line, Paper, Report, ReportRow};
use crate::model::Kind;
use crate::money::Currency;

#[cfg(test)]
mod tests;

/// Renders a report as a complete PDF document.
///
/// Every amount is printed exactly from its `Decimal`, with thousands separators and the
/// currency's decimals; transactions without a rate say "no rate" and the currencies they are
/// in are listed on the first page as left out of the totals.
pub fn render(report: &Report, paper: Paper) -> Vec<u8> {
    let (width, height) = match paper {
        Paper::A4 => (595.0, 842.0),
        Paper::Letter => (612.0, 792.0),
    };
    let mut doc = Doc::new(width, height);
    doc.header(report);
    doc.summary(report);
    doc.unconverted(report);
    doc.categories(report);
    doc.months(report);
    doc.breakdowns(report);
    doc.budgets(report);
    doc.transactions(report);
    doc.footers(report);
    doc.finish(report)
}

// ---------------------------------------------------------------------------------------------
// Page geometry and colours (points; y is measured from the top of the page while laying out).

/// Left and right margin.
const MARGIN_X: f32 = 48.0;
/// Where the content starts on every page.
const TOP: f32 = 46.0;
/// Space kept free at the foot of every page for the footer.
const BOTTOM: f32 = 64.0;
/// Horizontal padding inside table cells.
const PAD: f32 = 5.0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn parts(self) -> (f32, f32, f32) {
        (f32::from(self.0) / 255.0, f32::from(self.1) / 255.0, f32::from(self.2) / 255.0)
    }

    /// A category's `#rrggbb`; `None` for anything else.
    fn parse(hex: &str) -> Option<Rgb> {
        let digits = hex.trim().strip_prefix('#')?;
        if digits.len() != 6 || !digits.is_ascii() {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).ok();
        Some(Rgb(channel(0)?, channel(2)?, channel(4)?))
    }
}

const INK: Rgb = Rgb(0x1f, 0x29, 0x37);
const MUTED: Rgb = Rgb(0x6b, 0x72, 0x80);
const RULE: Rgb = Rgb(0xd9, 0xde, 0xe5);
const ZEBRA: Rgb = Rgb(0xf4, 0xf6, 0xf9);
const TRACK: Rgb = Rgb(0xee, 0xf1, 0xf5);
const TILE: Rgb = Rgb(0xf7, 0xf9, 0xfc);
const ACCENT: Rgb = Rgb(0x25, 0x63, 0xeb);
const POSITIVE: Rgb = Rgb(0x15, 0x80, 0x3d);
const NEGATIVE: Rgb = Rgb(0xb9, 0x1c, 0x1c);
const WARN_FILL: Rgb = Rgb(0xff, 0xf7, 0xe6);
const WARN_EDGE: Rgb = Rgb(0xf5, 0x9e, 0x0b);
const WARN_INK: Rgb = Rgb(0x8a, 0x4b, 0x08);
/// A category without a usable colour.
const NEUTRAL_BAR: Rgb = Rgb(0x9c, 0xa3, 0xaf);

// ---------------------------------------------------------------------------------------------
// Fonts: the compiled-in faces, their glyphs as used so far, and the text runs made from them.

const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Regular,
    Bold,
}

impl Style {
    fn resource(self) -> Name<'static> {
        match self {
            Style::Regular => Name(b"F1"),
            Style::Bold => Name(b"F2"),
        }
    }
}

/// A glyph as the page streams address it: its CID in the subset, and its advance in
/// thousandths of an em.
#[derive(Clone, Copy)]
struct Glyph {
    cid: u16,
    advance: f32,
}

struct Font {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    postscript_name: &'static str,
    /// Font units to thousandths of an em.
    scale: f32,
    /// Glyph ids of the full font to the subset's, which the subsetter also writes the CIDs as.
    remapper: subsetter::GlyphRemapper,
    /// Per CID: the character it was first used for (the ToUnicode map) and its advance (`/W`).
    used: Vec<(char, f32)>,
    cache: HashMap<char, Glyph>,
}

impl Font {
    fn new(data: &'static [u8], postscript_name: &'static str) -> Font {
        let face = ttf_parser::Face::parse(data, 0).expect("the compiled-in font parses (a test loads it)");
        let scale = 1000.0 / f32::from(face.units_per_em());
        let notdef = f32::from(face.glyph_hor_advance(ttf_parser::GlyphId(0)).unwrap_or(0)) * scale;
        Font {
            face,
            data,
            postscript_name,
            scale,
            remapper: subsetter::GlyphRemapper::new(),
            used: vec![('\u{FFFD}', notdef)],
            cache: HashMap::new(),
        }
    }

    fn glyph(&mut self, c: char) -> Glyph {
        if let Some(glyph) = self.cache.get(&c) {
            return *glyph;
        }
        let glyph = self.add(c);
        self.cache.insert(c, glyph);
        glyph
    }

    fn add(&mut self, c: char) -> Glyph {
        // A tab or line break pasted into a description prints as a space; a character the
        // font lacks prints as '?', so that the text still reads (and extracts) sensibly.
        let c = if c.is_control() { ' ' } else { c };
        let (c, gid) = match self.face.glyph_index(c) {
            Some(gid) if gid.0 != 0 => (c, gid),
            _ => ('?', self.face.glyph_index('?').expect("the font has a question mark")),
        };
        let cid = self.remapper.remap(gid.0);
        let advance = f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0)) * self.scale;
        if usize::from(cid) == self.used.len() {
            self.used.push((c, advance));
        }
        Glyph { cid, advance }
    }
}

/// Text ready to show: the CIDs as two bytes each (Identity-H), and its width in points.
struct Run {
    bytes: Vec<u8>,
    width: f32,
}

struct Fonts {
    regular: Font,
    bold: Font,
}

impl Fonts {
    fn font(&mut self, style: Style) -> &mut Font {
        match style {
            Style::Regular => &mut self.regular,
            Style::Bold => &mut self.bold,
        }
    }

    fn width(&mut self, style: Style, size: f32, text: &str) -> f32 {
        let font = self.font(style);
        text.chars().map(|c| font.glyph(c).advance).sum::<f32>() * size / 1000.0
    }

    fn run(&mut self, style: Style, size: f32, text: &str) -> Run {
        self.fit(style, size, text, f32::INFINITY)
    }

    /// The text, cut at the last character that fits `max` points with an ellipsis after it.
    fn fit(&mut self, style: Style, size: f32, text: &str, max: f32) -> Run {
        let font = self.font(style);
        let limit = max * 1000.0 / size;
        let mut glyphs: Vec<Glyph> = Vec::with_capacity(text.len());
        let mut total = 0.0;
        let mut over = false;
        for c in text.chars() {
            let glyph = font.glyph(c);
            total += glyph.advance;
            glyphs.push(glyph);
            if total > limit {
                over = true;
                break;
            }
        }
        if over {
            let ellipsis = font.glyph('…');
            let space = font.glyph(' ').cid;
            while let Some(glyph) = glyphs.pop() {
                total -= glyph.advance;
                if total + ellipsis.advance <= limit {
                    break;
                }
            }
            // "Café …" reads worse than "Café…".
            while let Some(glyph) = glyphs.last().filter(|g| g.cid == space) {
                total -= glyph.advance;
                glyphs.pop();
            }
            glyphs.push(ellipsis);
            total += ellipsis.advance;
        }
        let bytes = glyphs.iter().flat_map(|g| g.cid.to_be_bytes()).collect();
        Run { bytes, width: total * size / 1000.0 }
    }

    /// Amounts are never cut: they get a smaller size until they fit (down to 5 pt).
    fn shrink(&mut self, style: Style, size: f32, text: &str, max: f32) -> (Run, f32) {
        let natural = self.width(style, size, text);
        let size = if natural > max { (size * max / natural).max(5.0) } else { size };
        (self.fit(style, size, text, max), size)
    }
}

// ---------------------------------------------------------------------------------------------
// One page's content stream, with the fill colour and font it last set (they persist between
// text objects, so repeating them for every cell would only bloat the stream).

#[derive(Clone, Copy)]
struct Ink {
    style: Style,
    size: f32,
    color: Rgb,
}

impl Ink {
    const fn new(style: Style, size: f32, color: Rgb) -> Ink {
        Ink { style, size, color }
    }
}

struct Canvas {
    content: Content,
    height: f32,
    fill: Option<Rgb>,
    stroke: Option<Rgb>,
    font: Option<(Style, f32)>,
}

impl Canvas {
    fn new(height: f32) -> Canvas {
        Canvas { content: Content::new(), height, fill: None, stroke: None, font: None }
    }

    fn set_fill(&mut self, color: Rgb) {
        if self.fill != Some(color) {
            let (r, g, b) = color.parts();
            self.content.set_fill_rgb(r, g, b);
            self.fill = Some(color);
        }
    }

    fn set_stroke(&mut self, color: Rgb) {
        if self.stroke != Some(color) {
            let (r, g, b) = color.parts();
            self.content.set_stroke_rgb(r, g, b);
            self.stroke = Some(color);
        }
    }

    /// Shows a run with its left end at `x` and its baseline at `baseline` (from the top).
    fn text(&mut self, x: f32, baseline: f32, ink: Ink, run: &Run) {
        if run.bytes.is_empty() {
            return;
        }
        self.set_fill(ink.color);
        self.content.begin_text();
        if self.font != Some((ink.style, ink.size)) {
            self.content.set_font(ink.style.resource(), ink.size);
            self.font = Some((ink.style, ink.size));
        }
        self.content.next_line(x, self.height - baseline);
        self.content.show(Str(&run.bytes));
        self.content.end_text();
    }

    fn rect(&mut self, x: f32, top: f32, width: f32, height: f32, color: Rgb) {
        self.set_fill(color);
        self.content.rect(x, self.height - top - height, width, height).fill_nonzero();
    }

    /// A filled rectangle with corners rounded by `r` (four quarter circles as Béziers).
    fn round_rect(&mut self, x: f32, top: f32, width: f32, height: f32, r: f32, color: Rgb) {
        let r = r.min(width / 2.0).min(height / 2.0);
        // The control-point distance of a quarter circle drawn as one cubic Bézier.
        let k = r * 0.552_284_8;
        let (x0, x1) = (x, x + width);
        let (y0, y1) = (self.height - top - height, self.height - top);
        self.set_fill(color);
        let c = &mut self.content;
        c.move_to(x0 + r, y0);
        c.line_to(x1 - r, y0);
        c.cubic_to(x1 - r + k, y0, x1, y0 + r - k, x1, y0 + r);
        c.line_to(x1, y1 - r);
        c.cubic_to(x1, y1 - r + k, x1 - r + k, y1, x1 - r, y1);
        c.line_to(x0 + r, y1);
        c.cubic_to(x0 + r - k, y1, x0, y1 - r + k, x0, y1 - r);
        c.line_to(x0, y0 + r);
        c.cubic_to(x0, y0 + r - k, x0 + r - k, y0, x0 + r, y0);
        c.close_path();
        c.fill_nonzero();
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32, thickness: f32, color: Rgb) {
        self.set_stroke(color);
        let y = self.height - y;
        self.content.set_line_width(thickness);
        self.content.move_to(x0, y).line_to(x1, y).stroke();
    }
}

// ---------------------------------------------------------------------------------------------
// Tables.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

struct Column {
    title: String,
    width: f32,
    align: Align,
}

impl Column {
    fn left(title: impl Into<String>, width: f32) -> Column {
        Column { title: title.into(), width, align: Align::Left }
    }

    fn right(title: impl Into<String>, width: f32) -> Column {
        Column { title: title.into(), width, align: Align::Right }
    }
}

/// What a cell does when its text is too wide: words are cut with an ellipsis, amounts shrink.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Cut,
    Shrink,
}

struct Cell {
    text: String,
    color: Rgb,
    style: Style,
    fit: Fit,
}

impl Cell {
    fn text(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), color: INK, style: Style::Regular, fit: Fit::Cut }
    }

    fn muted(text: impl Into<String>) -> Cell {
        Cell { color: MUTED, ..Cell::text(text) }
    }

    fn amount(text: impl Into<String>) -> Cell {
        Cell { fit: Fit::Shrink, ..Cell::text(text) }
    }

    fn colored(self, color: Rgb) -> Cell {
        Cell { color, ..self }
    }

    fn bold(self) -> Cell {
        Cell { style: Style::Bold, ..self }
    }
}

struct Table<'a> {
    columns: &'a [Column],
    size: f32,
    row_height: f32,
    /// The heading repeated above the table on the pages it continues on.
    continued: &'a str,
}

const HEADER_HEIGHT: f32 = 18.0;

// ---------------------------------------------------------------------------------------------
// The document being laid out.

struct Doc {
    fonts: Fonts,
    width: f32,
    height: f32,
    /// Never empty: the last one is the page being filled.
    pages: Vec<Canvas>,
    /// Where the next block goes, from the top of the current page.
    y: f32,
    /// Where the last rule across the page was drawn on this page, so that a section right
    /// under the title does not draw a second one.
    ruled_at: Option<f32>,
}

impl Doc {
    fn new(width: f32, height: f32) -> Doc {
        let fonts = Fonts {
            regular: Font::new(REGULAR_TTF, "LiberationSans"),
            bold: Font::new(BOLD_TTF, "LiberationSans-Bold"),
        };
        Doc { fonts, width, height, pages: vec![Canvas::new(height)], y: TOP, ruled_at: None }
    }

    fn page(&mut self) -> &mut Canvas {
        self.pages.last_mut().expect("a page is always open")
    }

    fn content_width(&self) -> f32 {
        self.width - 2.0 * MARGIN_X
    }

    fn right_edge(&self) -> f32 {
        self.width - MARGIN_X
    }

    fn bottom(&self) -> f32 {
        self.height - BOTTOM
    }

    fn new_page(&mut self) {
        self.pages.push(Canvas::new(self.height));
        self.y = TOP;
        self.ruled_at = None;
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn keep(&mut self, height: f32) {
        if self.y + height > self.bottom() {
            self.new_page();
        }
    }

    /// Text at `x` (its left end, or its right end for `Align::Right`), cut to `max` points.
    fn put(&mut self, x: f32, baseline: f32, ink: Ink, text: &str, align: Align, max: f32) -> f32 {
        let run = self.fonts.fit(ink.style, ink.size, text, max);
        let left = match align {
            Align::Left => x,
            Align::Right => x - run.width,
        };
        self.page().text(left, baseline, ink, &run);
        run.width
    }

    /// The rule between sections and the section's title, kept on one page with `keep`
    /// points of what follows it.
    fn section(&mut self, title: &str, keep: f32) {
        let first_on_page = self.y <= TOP;
        if !first_on_page {
            self.y += 14.0;
        }
        self.keep(30.0 + keep);
        let just_ruled = self.ruled_at.is_some_and(|at| self.y - at < 30.0);
        if self.y > TOP && !just_ruled {
            let (x0, x1) = (MARGIN_X, self.right_edge());
            let y = self.y;
            self.page().hline(x0, x1, y, 0.6, RULE);
            self.y += 16.0;
        }
        let y = self.y + 12.0;
        let width = self.content_width();
        self.put(MARGIN_X, y, Ink::new(Style::Bold, 12.5, INK), title, Align::Left, width);
        self.y += 24.0;
    }

    /// A smaller title inside a section.
    fn subheading(&mut self, title: &str, note: &str, keep: f32) {
        self.keep(20.0 + keep);
        let y = self.y + 9.0;
        let width = self.content_width();
        let used = self.put(MARGIN_X, y, Ink::new(Style::Bold, 9.5, INK), title, Align::Left, width);
        if !note.is_empty() {
            let x = MARGIN_X + used + 8.0;
            self.put(x, y, Ink::new(Style::Regular, 8.5, MUTED), note, Align::Left, width - used - 8.0);
        }
        self.y += 17.0;
    }

    /// What an empty section says instead of nothing.
    fn empty_note(&mut self, text: &str) {
        self.keep(18.0);
        let y = self.y + 10.0;
        let width = self.content_width();
        self.put(MARGIN_X, y, Ink::new(Style::Regular, 9.0, MUTED), text, Align::Left, width);
        self.y += 18.0;
    }

    fn table_header(&mut self, table: &Table) {
        let y = self.y;
        let size = table.size - 0.5;
        let mut x = MARGIN_X;
        for column in table.columns {
            let inner = column.width - 2.0 * PAD;
            let ink = Ink::new(Style::Bold, size, MUTED);
            let anchor = match column.align {
                Align::Left => x + PAD,
                Align::Right => x + column.width - PAD,
            };
            self.put(anchor, y + 12.0, ink, &column.title, column.align, inner);
            x += column.width;
        }
        let x1 = self.right_edge();
        self.page().hline(MARGIN_X, x1, y + HEADER_HEIGHT, 0.8, INK);
        self.y += HEADER_HEIGHT;
    }

    /// A table whose header is repeated on every page it runs onto; zebra rows.
    fn table(&mut self, table: &Table, rows: impl IntoIterator<Item = Vec<Cell>>) {
        self.keep(HEADER_HEIGHT + 2.0 * table.row_height);
        self.table_header(table);
        let width = self.content_width();
        // Zebra stripes count from each page's first row, so every page starts the same way.
        let mut stripe = false;
        for row in rows {
            if self.y + table.row_height > self.bottom() {
                self.new_page();
                let y = self.y + 9.0;
                let ink = Ink::new(Style::Bold, 9.5, MUTED);
                self.put(MARGIN_X, y, ink, table.continued, Align::Left, width);
                self.y += 18.0;
                self.table_header(table);
                stripe = false;
            }
            let top = self.y;
            if stripe {
                let h = table.row_height;
                self.page().rect(MARGIN_X, top, width, h, ZEBRA);
            }
            let mut x = MARGIN_X;
            for (column, cell) in table.columns.iter().zip(row) {
                let inner = column.width - 2.0 * PAD;
                let (run, size) = match cell.fit {
                    Fit::Cut => (self.fonts.fit(cell.style, table.size, &cell.text, inner), table.size),
                    Fit::Shrink => self.fonts.shrink(cell.style, table.size, &cell.text, inner),
                };
                let left = match column.align {
                    Align::Left => x + PAD,
                    Align::Right => x + column.width - PAD - run.width,
                };
                // Centred on the row: half the row down plus about a third of the cap height.
                let baseline = top + table.row_height / 2.0 + table.size * 0.35;
                self.page().text(left, baseline, Ink::new(cell.style, size, cell.color), &run);
                x += column.width;
            }
            stripe = !stripe;
            self.y += table.row_height;
        }
        let (x1, y) = (self.right_edge(), self.y);
        self.page().hline(MARGIN_X, x1, y, 0.5, RULE);
        self.y += 4.0;
    }

    // -----------------------------------------------------------------------------------------
    // The sections, in the order they appear.

    fn header(&mut self, report: &Report) {
        let width = self.content_width();
        let right = self.right_edge();
        // A band of the accent colour across the top of the first page.
        let page_width = self.width;
        self.page().rect(0.0, 0.0, page_width, 6.0, ACCENT);

        let left_width = width * 0.62;
        let y = self.y;
        self.put(MARGIN_X, y + 8.0, Ink::new(Style::Bold, 8.0, ACCENT), "PERIOD REPORT", Align::Left, left_width);
        self.put(MARGIN_X, y + 32.0, Ink::new(Style::Bold, 21.0, INK), &report.title, Align::Left, left_width);
        let dates = format!("{}  ·  {} – {}", report.period.label, day(report.period.from), day(report.period.to));
        self.put(MARGIN_X, y + 50.0, Ink::new(Style::Regular, 10.5, MUTED), &dates, Align::Left, left_width);

        let side = width - left_width - 12.0;
        let label = Ink::new(Style::Regular, 8.0, MUTED);
        let value = Ink::new(Style::Bold, 10.0, INK);
        self.put(right, y + 14.0, label, "Base currency", Align::Right, side);
        self.put(right, y + 27.0, value, report.base_currency.code(), Align::Right, side);
        let generated = report.generated_at;
        let stamp =
            format!("Generated {} {:02}:{:02} UTC", day(generated.date_naive()), generated.hour(), generated.minute());
        self.put(right, y + 50.0, label, &stamp, Align::Right, side);

        self.y += 62.0;
        let y = self.y;
        self.page().hline(MARGIN_X, right, y, 1.2, ACCENT);
        self.ruled_at = Some(y);
        self.y += 8.0;
    }

    fn summary(&mut self, report: &Report) {
        let base = report.base_currency;
        let s = &report.summary;
        let p = &report.previous;
        self.section("Summary", 130.0);

        // Four tiles with the period's headline figures.
        let gap = 10.0;
        let tile_width = (self.content_width() - 3.0 * gap) / 4.0;
        let tile_height = 58.0;
        let count_change = percent_change(Decimal::from(s.count), Decimal::from(p.summary.count));
        let tiles = [
            ("Income", money(s.income, base), p.income_change, Better::Up, POSITIVE),
            ("Expenses", money(s.expense, base), p.expense_change, Better::Down, NEGATIVE),
            ("Net", money(s.net, base), p.net_change, Better::Up, if s.net < Decimal::ZERO { NEGATIVE } else { INK }),
            ("Transactions", group_digits(&s.count.to_string()), count_change, Better::Neither, INK),
        ];
        let top = self.y;
        for (i, (label, value, change, better, color)) in tiles.into_iter().enumerate() {
            let x = MARGIN_X + i as f32 * (tile_width + gap);
            self.page().round_rect(x, top, tile_width, tile_height, 5.0, TILE);
            self.page().rect(x, top + 8.0, 2.5, tile_height - 16.0, color);
            let inner = tile_width - 20.0;
            self.put(x + 12.0, top + 16.0, Ink::new(Style::Regular, 8.0, MUTED), label, Align::Left, inner);
            let (run, size) = self.fonts.shrink(Style::Bold, 13.0, &value, inner);
            self.page().text(x + 12.0, top + 34.0, Ink::new(Style::Bold, size, INK), &run);
            let (text, tone) = match change {
                Some(change) => (format!("{} vs previous", signed_percent(change)), better.tone(change)),
                None => ("no previous figure".to_string(), MUTED),
            };
            self.put(x + 12.0, top + 49.0, Ink::new(Style::Regular, 7.5, tone), &text, Align::Left, inner);
        }
        self.y = top + tile_height + 12.0;

        // The comparison with the period before, figure by figure.
        let width = self.content_width();
        let figure = 130.0;
        let other = (width - figure) / 3.0;
        let columns = [
            Column::left("", figure),
            Column::right(&report.period.label, other),
            Column::right(format!("{} (previous)", p.period.label), other),
            Column::right("Change", other),
        ];
        let change_cell = |change: Option<Decimal>, better: Better| match change {
            Some(change) => Cell::text(signed_percent(change)).colored(better.tone(change)),
            None => Cell::muted("—"),
        };
        let rows = vec![
            vec![
                Cell::text("Income"),
                Cell::amount(money(s.income, base)),
                Cell::amount(money(p.summary.income, base)).colored(MUTED),
                change_cell(p.income_change, Better::Up),
            ],
            vec![
                Cell::text("Expenses"),
                Cell::amount(money(s.expense, base)),
                Cell::amount(money(p.summary.expense, base)).colored(MUTED),
                change_cell(p.expense_change, Better::Down),
            ],
            vec![
                Cell::text("Net").bold(),
                Cell::amount(money(s.net, base)).bold(),
                Cell::amount(money(p.summary.net, base)).colored(MUTED),
                change_cell(p.net_change, Better::Up),
            ],
            vec![
                Cell::text("Transactions"),
                Cell::amount(group_digits(&s.count.to_string())),
                Cell::amount(group_digits(&p.summary.count.to_string())).colored(MUTED),
                change_cell(count_change, Better::Neither),
            ],
        ];
        let table = Table { columns: &columns, size: 9.0, row_height: 17.0, continued: "Summary (continued)" };
        self.table(&table, rows);
    }

    fn unconverted(&mut self, report: &Report) {
        if report.unconverted.is_empty() {
            return;
        }
        let width = self.content_width();
        let lines: Vec<String> = report
            .unconverted
            .iter()
            .map(|u| {
                format!(
                    "{}: {} — income {}, expenses {}",
                    u.currency.code(),
                    count_words(u.count, "transaction"),
                    money(u.income, u.currency),
                    money(u.expense, u.currency)
                )
            })
            .collect();
        let explanation = format!(
            "No exchange rate to {} was found for these transactions. They are listed below with \"no rate\" \
             but are not included in the totals, charts and breakdowns.",
            report.base_currency.code()
        );
        let inner = width - 28.0;
        let explanation_lines = wrap(&mut self.fonts, Style::Regular, 8.5, &explanation, inner);
        let title = "Not included in the totals: currencies without an exchange rate";
        let intro = 14.0 + 14.0 + explanation_lines.len() as f32 * 11.5 + 4.0;
        let (line_height, padding) = (13.0, 5.0);
        self.y += 14.0;
        self.keep(intro + line_height + padding);
        // The box goes over to the next page only if the currencies would not fit on this one
        // (a ledger with dozens of currencies without rates); it is one box otherwise.
        let mut rest: &[String] = &lines;
        let mut first = true;
        while first || !rest.is_empty() {
            let top = self.y;
            let head = if first { intro } else { 14.0 };
            let room = ((self.bottom() - top - head - padding) / line_height).floor().max(1.0) as usize;
            let (now, later) = rest.split_at(room.min(rest.len()));
            let height = head + now.len() as f32 * line_height + padding;
            self.page().round_rect(MARGIN_X, top, width, height, 4.0, WARN_FILL);
            self.page().rect(MARGIN_X, top, 3.0, height, WARN_EDGE);
            let x = MARGIN_X + 16.0;
            let mut y = top + 18.0;
            if first {
                self.put(x, y, Ink::new(Style::Bold, 9.5, WARN_INK), title, Align::Left, inner);
                y += 14.0;
                for line in &explanation_lines {
                    self.put(x, y, Ink::new(Style::Regular, 8.5, WARN_INK), line, Align::Left, inner);
                    y += 11.5;
                }
                y += 4.0;
            }
            for line in now {
                self.put(x, y, Ink::new(Style::Bold, 8.5, INK), line, Align::Left, inner);
                y += line_height;
            }
            self.y = top + height + 2.0;
            rest = later;
            first = false;
            if !rest.is_empty() {
                self.new_page();
            }
        }
    }

    fn categories(&mut self, report: &Report) {
        let expenses: Vec<&Line> = report.categories.iter().filter(|l| l.kind == Kind::Expense).collect();
        let income: Vec<&Line> = report.categories.iter().filter(|l| l.kind == Kind::Income).collect();
        self.section("Categories", 60.0);
        let base = report.base_currency;
        let expense_total = money(report.summary.expense, base);
        self.subheading("Expenses", &format!("{expense_total} in total"), 18.0);
        self.bars(&expenses, base, "No expenses in this period");
        self.y += 8.0;
        let income_total = money(report.summary.income, base);
        self.subheading("Income", &format!("{income_total} in total"), 18.0);
        self.bars(&income, base, "No income in this period");
    }

    /// A horizontal bar chart: swatch and name, a bar on a light track scaled to the largest
    /// line, the amount and the share.
    fn bars(&mut self, lines: &[&Line], base: Currency, empty: &str) {
        if lines.is_empty() {
            self.empty_note(empty);
            return;
        }
        let row = 17.0;
        let width = self.content_width();
        let name_width = 132.0;
        let amount_width = 92.0;
        let percent_width = 44.0;
        let track_x = MARGIN_X + name_width + 6.0;
        let track_width = width - name_width - 6.0 - amount_width - percent_width - 8.0;
        // Bar lengths are geometry, so floats are fine here; the printed figures stay exact.
        let largest = lines.iter().map(|l| l.total.to_f64().unwrap_or(0.0)).fold(0.0, f64::max);
        for line in lines {
            self.keep(row);
            let top = self.y;
            let color = line.color.as_deref().and_then(Rgb::parse).unwrap_or(NEUTRAL_BAR);
            let baseline = top + row / 2.0 + 3.0;
            self.page().round_rect(MARGIN_X, top + row / 2.0 - 4.0, 8.0, 8.0, 2.0, color);
            let name_ink = Ink::new(Style::Regular, 8.5, INK);
            self.put(MARGIN_X + 13.0, baseline, name_ink, &line.name, Align::Left, name_width - 13.0);
            let bar_height = 9.0;
            let bar_top = top + (row - bar_height) / 2.0;
            self.page().round_rect(track_x, bar_top, track_width, bar_height, 2.0, TRACK);
            let share =
                if largest > 0.0 { (line.total.to_f64().unwrap_or(0.0) / largest).clamp(0.0, 1.0) } else { 0.0 };
            let bar = (share as f32 * track_width).max(if line.total > Decimal::ZERO { 1.5 } else { 0.0 });
            if bar > 0.0 {
                self.page().round_rect(track_x, bar_top, bar, bar_height, 2.0, color);
            }
            let amount_right = MARGIN_X + width - percent_width;
            let (run, size) = self.fonts.shrink(Style::Regular, 8.5, &money(line.total, base), amount_width - 4.0);
            self.page().text(amount_right - run.width, baseline, Ink::new(Style::Regular, size, INK), &run);
            let share_text = percent(line.percent);
            let right = self.right_edge();
            self.put(right, baseline, Ink::new(Style::Bold, 8.5, MUTED), &share_text, Align::Right, percent_width);
            self.y += row;
        }
    }

    fn months(&mut self, report: &Report) {
        self.section("Month by month", HEADER_HEIGHT + 32.0);
        if report.months.is_empty() || report.transactions.is_empty() {
            self.empty_note("No transactions in this period");
            return;
        }
        let base = report.base_currency;
        let width = self.content_width();
        let month = 120.0;
        let count = 80.0;
        let other = (width - month - count) / 3.0;
        let columns = [
            Column::left("Month", month),
            Column::right("Income", other),
            Column::right("Expenses", other),
            Column::right("Net", other),
            Column::right("Transactions", count),
        ];
        let rows = report.months.iter().map(|m| {
            vec![
                Cell::text(m.month.first_day().format("%B %Y").to_string()),
                Cell::amount(money(m.income, base)),
                Cell::amount(money(m.expense, base)),
                Cell::amount(money(m.net, base)).colored(if m.net < Decimal::ZERO { NEGATIVE } else { INK }).bold(),
                Cell::muted(group_digits(&m.count.to_string())),
            ]
        });
        let table = Table { columns: &columns, size: 8.5, row_height: 16.0, continued: "Month by month (continued)" };
        self.table(&table, rows);
    }

    fn breakdowns(&mut self, report: &Report) {
        self.breakdown("By payment method", "Payment method", &report.payment_methods, report.base_currency);
        self.breakdown("By tag", "Tag", &report.tags, report.base_currency);
    }

    fn breakdown(&mut self, title: &str, what: &str, lines: &[Line], base: Currency) {
        self.section(title, HEADER_HEIGHT + 32.0);
        if lines.is_empty() {
            self.empty_note("No transactions in this period");
            return;
        }
        let width = self.content_width();
        let (kind, total, count, share) = (70.0, 110.0, 80.0, 60.0);
        let columns = [
            Column::left(what, width - kind - total - count - share),
            Column::left("Kind", kind),
            Column::right("Total", total),
            Column::right("Transactions", count),
            Column::right("Share", share),
        ];
        let rows = lines.iter().map(|l| {
            vec![
                Cell::text(&l.name),
                Cell::muted(kind_word(l.kind)),
                Cell::amount(money(l.total, base)).colored(kind_color(l.kind)),
                Cell::muted(group_digits(&l.count.to_string())),
                Cell::text(percent(l.percent)),
            ]
        });
        let continued = format!("{title} (continued)");
        let table = Table { columns: &columns, size: 8.5, row_height: 16.0, continued: &continued };
        self.table(&table, rows);
    }

    fn budgets(&mut self, report: &Report) {
        if report.budgets.is_empty() {
            return;
        }
        self.section("Budgets", HEADER_HEIGHT + 32.0);
        let base = report.base_currency;
        let width = self.content_width();
        let (period, amount, used) = (92.0, 82.0, 52.0);
        let columns = [
            Column::left("Budget", width - period - 3.0 * amount - used),
            Column::left("Period", period),
            Column::right("Limit", amount),
            Column::right("Actual", amount),
            Column::right("Remaining", amount),
            Column::right("Used", used),
        ];
        let rows = report.budgets.iter().map(|b: &BudgetLine| {
            let tone = if b.percent > Decimal::ONE_HUNDRED {
                NEGATIVE
            } else if b.percent >= Decimal::from(80) {
                WARN_INK
            } else {
                POSITIVE
            };
            vec![
                Cell::text(&b.name),
                Cell::muted(span(b.from, b.to)),
                Cell::amount(money(b.limit, base)),
                Cell::amount(money(b.actual, base)),
                Cell::amount(money(b.remaining, base)).colored(if b.remaining < Decimal::ZERO {
                    NEGATIVE
                } else {
                    INK
                }),
                Cell::text(percent(b.percent)).colored(tone).bold(),
            ]
        });
        let table = Table { columns: &columns, size: 8.5, row_height: 16.0, continued: "Budgets (continued)" };
        self.table(&table, rows);
    }

    fn transactions(&mut self, report: &Report) {
        let title = format!("Transactions ({})", group_digits(&report.transactions.len().to_string()));
        if report.transactions.is_empty() {
            self.section(&title, 18.0);
            self.empty_note("No transactions in this period");
            return;
        }
        // The list starts on a page of its own: it is the long part, and reads as an appendix.
        self.new_page();
        self.section(&title, HEADER_HEIGHT + 28.0);
        let base = report.base_currency;
        let width = self.content_width();
        let (date, category, method, amount) = (56.0, 74.0, 66.0, 84.0);
        let columns = [
            Column::left("Date", date),
            Column::left("Description", width - date - category - method - 2.0 * amount),
            Column::left("Category", category),
            Column::left("Payment", method),
            Column::right("Amount", amount),
            Column::right(format!("In {}", base.code()), amount),
        ];
        let rows = report.transactions.iter().map(|row: &ReportRow| {
            let sign = match row.kind {
                Kind::Expense => "-",
                Kind::Income => "+",
            };
            let converted = match row.converted {
                Some(value) => Cell::amount(format!("{sign}{}", money(value, base))).colored(kind_color(row.kind)),
                None => Cell::text("no rate").colored(WARN_INK).bold(),
            };
            vec![
                Cell::muted(row.date.format("%Y-%m-%d").to_string()),
                Cell::text(&row.description),
                Cell::text(&row.category),
                Cell::muted(&row.payment_method),
                Cell::amount(format!("{sign}{}", money(row.amount, row.currency))).colored(MUTED),
                converted,
            ]
        });
        let table = Table { columns: &columns, size: 7.8, row_height: 13.5, continued: "Transactions (continued)" };
        self.table(&table, rows);
    }

    /// "Page N of M" and the report's title at the foot of every page, once M is known.
    fn footers(&mut self, report: &Report) {
        let total = self.pages.len();
        let (x0, x1) = (MARGIN_X, self.right_edge());
        let rule = self.height - 42.0;
        let baseline = self.height - 28.0;
        let ink = Ink::new(Style::Regular, 7.5, MUTED);
        let left = format!("{}  ·  {}", report.title, report.period.label);
        let half = self.content_width() * 0.6;
        for index in 0..total {
            let page = format!("Page {} of {}", index + 1, total);
            let right = self.fonts.run(Style::Regular, 7.5, &page);
            let title = self.fonts.fit(Style::Regular, 7.5, &left, half);
            let canvas = &mut self.pages[index];
            canvas.hline(x0, x1, rule, 0.5, RULE);
            canvas.text(x0, baseline, ink, &title);
            canvas.text(x1 - right.width, baseline, ink, &right);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Writing the file.

    fn finish(self, report: &Report) -> Vec<u8> {
        let Doc { fonts, width, height, pages, .. } = self;
        let mut pdf = Pdf::new();
        let mut next = Ref::new(1);
        let catalog = next.bump();
        let tree = next.bump();
        let info = next.bump();
        let regular = FontRefs::new(&mut next);
        let bold = FontRefs::new(&mut next);
        let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (next.bump(), next.bump())).collect();

        pdf.catalog(catalog).pages(tree);
        let count = i32::try_from(page_refs.len()).expect("fewer than 2^31 pages");
        pdf.pages(tree).kids(page_refs.iter().map(|(page, _)| *page)).count(count);

        let streams = compress_pages(pages);
        for ((page_id, content_id), stream) in page_refs.iter().zip(&streams) {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, width, height)).parent(tree).contents(*content_id);
            let mut resources = page.resources();
            resources.fonts().pair(Style::Regular.resource(), regular.type0).pair(Style::Bold.resource(), bold.type0);
            resources.finish();
            page.finish();
            pdf.stream(*content_id, stream).filter(Filter::FlateDecode);
        }

        embed(&mut pdf, &fonts.regular, &regular);
        embed(&mut pdf, &fonts.bold, &bold);

        let mut document = pdf.document_info(info);
        document.title(TextStr(&report.title));
        document.subject(TextStr(&format!("{} ({} – {})", report.period.label, report.period.from, report.period.to)));
        document.producer(TextStr("ExpensoTrack"));
        if let Some(date) = pdf_date(report.generated_at) {
            document.creation_date(date);
        }
        document.finish();
        pdf.finish()
    }
}

/// The page streams, compressed. One thread does it: with 10,000 transactions the whole
/// export takes about 140 ms in a release build, and a second thread saved nothing measurable.
fn compress_pages(pages: Vec<Canvas>) -> Vec<Vec<u8>> {
    pages.into_iter().map(|p| deflate(p.content.finish().as_slice())).collect()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    // Level 6 is zlib's default: within a few percent of the smallest output at a fraction of
    // the time of level 9.
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

struct FontRefs {
    type0: Ref,
    cid: Ref,
    descriptor: Ref,
    to_unicode: Ref,
    file: Ref,
}

impl FontRefs {
    fn new(next: &mut Ref) -> FontRefs {
        FontRefs {
            type0: next.bump(),
            cid: next.bump(),
            descriptor: next.bump(),
            to_unicode: next.bump(),
            file: next.bump(),
        }
    }
}

/// Writes a font as a Type 0 font over a CID-keyed TrueType subset (Identity-H, the subset's
/// glyph ids as CIDs), with its widths and a ToUnicode map so that text extracts as written.
fn embed(pdf: &mut Pdf, font: &Font, refs: &FontRefs) {
    let subset = subsetter::subset(font.data, 0, &font.remapper)
        .expect("the compiled-in font subsets (a test renders every character it covers)");
    let name = format!("{}+{}", subset_tag(&font.used), font.postscript_name);
    let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

    pdf.type0_font(refs.type0)
        .base_font(Name(name.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(refs.cid)
        .to_unicode(refs.to_unicode);

    let mut cid = pdf.cid_font(refs.cid);
    cid.subtype(CidFontType::Type2)
        .base_font(Name(name.as_bytes()))
        .system_info(system_info)
        .font_descriptor(refs.descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid.widths().consecutive(0, font.used.iter().map(|&(_, advance)| advance));
    cid.finish();

    let face = &font.face;
    let s = font.scale;
    let bbox = face.global_bounding_box();
    pdf.font_descriptor(refs.descriptor)
        .name(Name(name.as_bytes()))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            f32::from(bbox.x_min) * s,
            f32::from(bbox.y_min) * s,
            f32::from(bbox.x_max) * s,
            f32::from(bbox.y_max) * s,
        ))
        .italic_angle(face.italic_angle())
        .ascent(f32::from(face.ascender()) * s)
        .descent(f32::from(face.descender()) * s)
        .cap_height(f32::from(face.capital_height().unwrap_or(face.ascender())) * s)
        // The usual estimate of the dominant stem width from the weight class.
        .stem_v(10.0 + 0.244 * (f32::from(face.weight().to_number()) - 50.0))
        .font_file2(refs.file);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    for (cid, &(c, _)) in font.used.iter().enumerate().skip(1) {
        cmap.pair(u16::try_from(cid).expect("a font has at most 65,536 glyphs"), c);
    }
    let cmap = deflate(cmap.finish().as_slice());
    pdf.cmap(refs.to_unicode, &cmap).filter(Filter::FlateDecode);

    let compressed = deflate(&subset);
    let length = i32::try_from(subset.len()).expect("a font subset is smaller than 2 GiB");
    pdf.stream(refs.file, &compressed).filter(Filter::FlateDecode).pair(Name(b"Length1"), length);
}

/// The six capital letters before a subset's name, which tell subsets of one font apart.
fn subset_tag(used: &[(char, f32)]) -> String {
    // FNV-1a over the characters: stable across runs, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &(c, _) in used {
        hash = (hash ^ u64::from(u32::from(c))).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (hash % 26) as u8);
            hash /= 26;
            letter
        })
        .collect()
}

fn pdf_date(at: chrono::DateTime<chrono::Utc>) -> Option<Date> {
    let year = u16::try_from(at.year()).ok()?;
    // Every component below is in range by chrono's own bounds (month 1–12, hour 0–23, …).
    let part = |v: u32| u8::try_from(v).ok();
    Some(
        Date::new(year)
            .month(part(at.month())?)
            .day(part(at.day())?)
            .hour(part(at.hour())?)
            .minute(part(at.minute())?)
            .second(part(at.second())?)
            .utc_offset_hour(0)
            .utc_offset_minute(0),
    )
}

// ---------------------------------------------------------------------------------------------
// Words and numbers.

/// Which way a change is good news, for its colour.
#[derive(Clone, Copy)]
enum Better {
    Up,
    Down,
    Neither,
}

impl Better {
    fn tone(self, change: Decimal) -> Rgb {
        let good = match self {
            Better::Up => change > Decimal::ZERO,
            Better::Down => change < Decimal::ZERO,
            Better::Neither => return MUTED,
        };
        if change.is_zero() {
            MUTED
        } else if good {
            POSITIVE
        } else {
            NEGATIVE
        }
    }
}

/// An amount with the currency's decimals, thousands separators and its code:
/// `-12,345.67 EUR`. Exact: only the `Decimal`'s own digits are regrouped.
fn money(value: Decimal, currency: Currency) -> String {
    format!("{} {}", group_number(&currency.format(value)), currency.code())
}

/// `-1234567.8` → `-1,234,567.8`.
fn group_number(plain: &str) -> String {
    let (sign, unsigned) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    // "-0.00" is what a negative zero prints as; a report shows it as "0.00".
    let is_zero = unsigned.bytes().all(|b| b == b'0' || b == b'.');
    let mut out = String::with_capacity(plain.len() + whole.len() / 3 + 1);
    if !is_zero {
        out.push_str(sign);
    }
    out.push_str(&group_digits(whole));
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// `1234567` → `1,234,567`.
fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share in percent with one decimal: `12.5%`.
fn percent(value: Decimal) -> String {
    let mut v = value.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(1);
    format!("{}%", group_number(&v.to_string()))
}

/// A change in percent with its sign: `+12.5%`, `-3.0%`, `0.0%`.
fn signed_percent(value: Decimal) -> String {
    let text = percent(value);
    if value.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero) > Decimal::ZERO {
        format!("+{text}")
    } else {
        text
    }
}

/// The change from `previous` to `current` in percent, one decimal; `None` from zero.
fn percent_change(current: Decimal, previous: Decimal) -> Option<Decimal> {
    if previous.is_zero() {
        return None;
    }
    let change = (current - previous) * Decimal::ONE_HUNDRED / previous;
    Some(change.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero))
}

fn count_words(count: u64, noun: &str) -> String {
    let number = group_digits(&count.to_string());
    if count == 1 {
        format!("{number} {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Expense => "Expense",
        Kind::Income => "Income",
    }
}

fn kind_color(kind: Kind) -> Rgb {
    match kind {
        Kind::Expense => INK,
        Kind::Income => POSITIVE,
    }
}

/// `1 Mar 2025`.
fn day(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

/// A budget's own period: `March 2025`, `2025`, or `1 Mar 2025 – 15 Apr 2025`.
fn span(from: NaiveDate, to: NaiveDate) -> String {
    let month_end = crate::query::Month::of(from).last_day();
    if from.day() == 1 && to == month_end {
        return from.format("%B %Y").to_string();
    }
    if from.ordinal() == 1 && to.year() == from.year() && to.month() == 12 && to.day() == 31 {
        return from.year().to_string();
    }
    format!("{} – {}", day(from), day(to))
}

/// Splits text into lines of at most `max` points, at spaces.
fn wrap(fonts: &mut Fonts, style: Style, size: f32, text: &str, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if line.is_empty() || fonts.width(style, size, &candidate) <= max {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
