//! OFX and QFX statements: OFX 1.x (SGML, leaf elements left unclosed) and 2.x (XML) read by
//! one tolerant tokenizer into a small tree, then the transactions of bank (`STMTRS`) and
//! credit-card (`CCSTMTRS`) statements.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::NaiveDate;

use super::{
    bad, check_size, clean_description, clean_notes, currency_from_text, decode, non_empty, parse_amount, quoted,
    too_many_rows, year_in_range, Encoding, FileFormat, ParsedFile, ParsedRow, MAX_ROWS,
};
use crate::error::Result;
use crate::money::Currency;

/// Real statements nest a dozen levels; unclosed empty SGML elements add a few more.
const MAX_DEPTH: usize = 256;
/// About twenty elements per transaction at the row limit, and the rest of the document.
const MAX_ELEMENTS: usize = MAX_ROWS * 20 + 10_000;

/// An element: a leaf with text, or an aggregate with children. Nodes live in one arena in
/// document order, so nothing here recurses (a fuzzed file cannot overflow the stack).
struct Node {
    name: String,
    text: String,
    line: usize,
    column: usize,
    parent: usize,
    children: Vec<usize>,
}

struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn child(&self, node: usize, name: &str) -> Option<usize> {
        self.nodes[node].children.iter().copied().find(|&c| self.nodes[c].name == name)
    }

    fn child_text(&self, node: usize, name: &str) -> Option<(usize, &str)> {
        self.child(node, name).map(|c| (c, self.nodes[c].text.trim()))
    }
}

/// Reads an OFX or QFX file. The text encoding is found as for `Encoding::Auto` (headers that
/// say CHARSET:1252 are often wrong about UTF-8 files, and valid UTF-8 is never Windows-1252
/// by chance).
pub fn parse_ofx(file_name: &str, bytes: &[u8]) -> Result<ParsedFile> {
    let file = file_name;
    check_size(file, bytes)?;
    let (text, _) = decode(file, bytes, Encoding::Auto)?;
    let tree = build_tree(file, &text)?;

    let mut rows = Vec::new();
    let mut skipped = 0;
    let mut statements: HashMap<usize, Statement> = HashMap::new();
    let mut file_statement: Option<usize> = None;
    for (index, node) in tree.nodes.iter().enumerate() {
        if node.name != "STMTTRN" {
            continue;
        }
        // Only posted transactions of bank and credit-card statements (not investment ones).
        let mut in_list = false;
        let mut statement = None;
        let mut at = node.parent;
        while at != 0 {
            match tree.nodes[at].name.as_str() {
                "BANKTRANLIST" => in_list = true,
                "STMTRS" | "CCSTMTRS" => {
                    statement = Some(at);
                    break;
                }
                _ => {}
            }
            at = tree.nodes[at].parent;
        }
        let (true, Some(statement)) = (in_list, statement) else { continue };
        if let Entry::Vacant(entry) = statements.entry(statement) {
            entry.insert(read_statement(file, &tree, statement)?);
        }
        let first = *file_statement.get_or_insert(statement);
        let (this, first) = (&statements[&statement], &statements[&first]);
        if this.account != first.account {
            return Err(bad(
                file,
                tree.nodes[statement].line,
                None,
                format!(
                    "the file holds statements of more than one account ({} and {}); export each account to a file \
                     of its own",
                    first.account.as_deref().unwrap_or("unnamed"),
                    this.account.as_deref().unwrap_or("unnamed")
                ),
            ));
        }
        if rows.len() + skipped >= MAX_ROWS {
            return Err(too_many_rows(file, node.line));
        }
        let row = read_transaction(file, &tree, index)?;
        // A statement in another currency than the file's first one names it on each row.
        let currency = row.currency.or(if this.currency != first.currency { this.currency } else { None });
        if row.amount.is_zero() {
            skipped += 1;
        } else {
            rows.push(ParsedRow { currency, ..row });
        }
    }
    let Some(first) = file_statement else {
        return Err(bad(file, 0, None, no_transactions(&tree)));
    };
    let Statement { currency, account } = statements.remove(&first).unwrap_or_default();
    Ok(ParsedFile { format: FileFormat::Ofx, currency, account, rows, skipped })
}

/// Why there is nothing to import: the bank's own error when its answer is one (a download
/// that failed), else that the file lists no transactions.
fn no_transactions(tree: &Tree) -> String {
    let failed = tree.nodes.iter().find(|n| n.name == "SEVERITY" && n.text.trim().eq_ignore_ascii_case("ERROR"));
    match failed {
        Some(severity) => {
            let status = severity.parent;
            let mut text = "the file has no transactions: the bank reported an error".to_string();
            if let Some((_, code)) = tree.child_text(status, "CODE").filter(|(_, c)| !c.is_empty()) {
                text.push_str(&format!(" (code {})", clean_description(code)));
            }
            if let Some((_, message)) = tree.child_text(status, "MESSAGE").filter(|(_, m)| !m.is_empty()) {
                text.push_str(&format!(": {}", clean_description(message)));
            }
            text
        }
        None => "the file has no transactions (no STMTTRN in a bank or credit-card statement)".to_string(),
    }
}

#[derive(Default)]
struct Statement {
    currency: Option<Currency>,
    account: Option<String>,
}

fn read_statement(file: &str, tree: &Tree, statement: usize) -> Result<Statement> {
    let currency = match tree.child_text(statement, "CURDEF") {
        Some((node, code)) if !code.is_empty() => Some(currency_code(file, tree, node, code)?),
        _ => None,
    };
    let account = ["BANKACCTFROM", "CCACCTFROM"]
        .iter()
        .filter_map(|name| tree.child(statement, name))
        .find_map(|from| tree.child_text(from, "ACCTID"))
        .and_then(|(_, id)| non_empty(id));
    Ok(Statement { currency, account })
}

fn currency_code(file: &str, tree: &Tree, node: usize, code: &str) -> Result<Currency> {
    currency_from_text(code).ok_or_else(|| {
        let n = &tree.nodes[node];
        bad(
            file,
            n.line,
            Some(n.column),
            format!("{} is not a currency code (ISO 4217, like EUR or USD)", quoted(code)),
        )
    })
}

fn read_transaction(file: &str, tree: &Tree, index: usize) -> Result<ParsedRow> {
    let node = &tree.nodes[index];
    let missing = |what: &str| bad(file, node.line, None, format!("the transaction has no {what}"));
    let at = |child: usize| (tree.nodes[child].line, Some(tree.nodes[child].column));

    let (date_node, date_text) = tree.child_text(index, "DTPOSTED").ok_or_else(|| missing("DTPOSTED (date posted)"))?;
    let date = parse_ofx_date(date_text).ok_or_else(|| {
        let (line, column) = at(date_node);
        bad(
            file,
            line,
            column,
            format!("{} is not a date (OFX dates are YYYYMMDD, optionally with a time)", quoted(date_text)),
        )
    })?;

    let (amount_node, amount_text) = tree.child_text(index, "TRNAMT").ok_or_else(|| missing("TRNAMT (amount)"))?;
    // OFX allows a comma for decimals; it has no thousands separators.
    let decimal = if amount_text.contains(',') && !amount_text.contains('.') { ',' } else { '.' };
    let amount = parse_amount(amount_text, decimal).map_err(|message| {
        let (line, column) = at(amount_node);
        bad(file, line, column, message)
    })?;

    let name = tree
        .child_text(index, "NAME")
        .or_else(|| {
            let payee = tree.child(index, "PAYEE")?;
            tree.child_text(payee, "NAME").or(Some((payee, tree.nodes[payee].text.trim())))
        })
        .map_or("", |(_, text)| text);
    let memo = tree.child_text(index, "MEMO").map_or("", |(_, text)| text);
    let (description, notes) = if clean_description(name).is_empty() {
        (clean_description(memo), String::new())
    } else {
        (clean_description(name), clean_notes(memo))
    };

    // CURRENCY: the amount is in that currency. ORIGCURRENCY: the amount was converted to the
    // statement's currency already, so the row stays in it.
    let currency = match tree.child(index, "CURRENCY").and_then(|c| tree.child_text(c, "CURSYM")) {
        Some((node, code)) if !code.is_empty() => Some(currency_code(file, tree, node, code)?),
        _ => None,
    };

    Ok(ParsedRow {
        line: node.line,
        date,
        amount,
        currency,
        description,
        notes,
        bank_id: tree.child_text(index, "FITID").and_then(|(_, id)| non_empty(id)),
        category: None,
    })
}

/// `YYYYMMDD`, optionally followed by a time, fraction and zone (`20240115120000.000[-5:EST]`),
/// whose date part is taken as written. `YYYY-MM-DD`, which some exporters write, too.
fn parse_ofx_date(text: &str) -> Option<NaiveDate> {
    let digits: String = if text.get(4..5) == Some("-") && text.get(7..8) == Some("-") {
        text.chars().take(10).filter(|&c| c != '-').collect()
    } else {
        text.chars().take(8).collect()
    };
    if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let year = digits[..4].parse().ok()?;
    let month = digits[4..6].parse().ok()?;
    let day = digits[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day).filter(|&d| year_in_range(d))
}

/// Line and column of byte positions, computed incrementally (a one-line XML file of 50 MB
/// must not cost a scan from its start for every tag).
struct Cursor<'t> {
    text: &'t str,
    at: usize,
    line: usize,
    column: usize,
}

impl Cursor<'_> {
    fn locate(&mut self, to: usize) -> (usize, usize) {
        if to > self.at {
            for c in self.text[self.at..to].chars() {
                if c == '\n' {
                    self.line += 1;
                    self.column = 1;
                } else {
                    self.column += 1;
                }
            }
            self.at = to;
        }
        (self.line, self.column)
    }
}

/// The tree builder's state: SGML leaves close themselves at the next tag; an element closed
/// by an outer end tag without having had text was an empty leaf, and what it seemed to
/// contain goes back to its parent.
struct Builder<'f> {
    file: &'f str,
    nodes: Vec<Node>,
    stack: Vec<usize>,
    seen_ofx: bool,
}

impl Builder<'_> {
    fn top(&self) -> usize {
        self.stack.last().copied().unwrap_or(0)
    }

    fn text(&mut self, text: &str) {
        let top = self.top();
        let node = &mut self.nodes[top];
        if top != 0 && node.children.is_empty() && !text.trim().is_empty() {
            node.text.push_str(&decode_entities(text));
        }
    }

    fn raw_text(&mut self, text: &str) {
        let top = self.top();
        let node = &mut self.nodes[top];
        if top != 0 && node.children.is_empty() {
            node.text.push_str(text);
        }
    }

    /// Closes the element on top when it is a leaf that has its text (SGML leaves have no end
    /// tag), and returns it.
    fn close_leaf(&mut self) -> Option<usize> {
        let top = self.top();
        let node = &self.nodes[top];
        if top != 0 && node.children.is_empty() && !node.text.trim().is_empty() {
            self.stack.pop();
            return Some(top);
        }
        None
    }

    fn start(&mut self, name: String, line: usize, column: usize) -> Result<()> {
        self.close_leaf();
        if self.stack.len() > MAX_DEPTH {
            return Err(bad(self.file, line, Some(column), format!("elements are nested more than {MAX_DEPTH} deep")));
        }
        if self.nodes.len() > MAX_ELEMENTS {
            return Err(bad(self.file, line, Some(column), "the file has too many elements for a statement"));
        }
        let parent = self.top();
        let index = self.nodes.len();
        self.seen_ofx |= name == "OFX";
        self.nodes.push(Node { name, text: String::new(), line, column, parent, children: Vec::new() });
        self.nodes[parent].children.push(index);
        self.stack.push(index);
        Ok(())
    }

    fn end(&mut self, name: &str) {
        if let Some(leaf) = self.close_leaf() {
            if self.nodes[leaf].name == name {
                return;
            }
        }
        let Some(depth) = self.stack.iter().rposition(|&n| n != 0 && self.nodes[n].name == name) else {
            // An end tag of nothing open: ignore it.
            return;
        };
        while self.stack.len() > depth + 1 {
            let Some(empty) = self.stack.pop() else { break };
            let parent = self.nodes[empty].parent;
            let children = std::mem::take(&mut self.nodes[empty].children);
            for &child in &children {
                self.nodes[child].parent = parent;
            }
            self.nodes[parent].children.extend(children);
        }
        self.stack.pop();
    }
}

fn build_tree(file: &str, text: &str) -> Result<Tree> {
    let root = Node { name: String::new(), text: String::new(), line: 0, column: 0, parent: 0, children: Vec::new() };
    let mut builder = Builder { file, nodes: vec![root], stack: vec![0], seen_ofx: false };
    let mut cursor = Cursor { text, at: 0, line: 1, column: 1 };
    let mut pos = 0;
    while pos < text.len() {
        let Some(offset) = text[pos..].find('<') else {
            builder.text(&text[pos..]);
            break;
        };
        let lt = pos + offset;
        builder.text(&text[pos..lt]);
        let rest = &text[lt..];
        if rest.starts_with("<!--") {
            pos = rest.find("-->").map_or(text.len(), |end| lt + end + 3);
            continue;
        }
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").unwrap_or(body.len());
            builder.raw_text(&body[..end]);
            pos = (lt + 9 + end + 3).min(text.len());
            continue;
        }
        // A tag ends at '>'; a '<' before it means the first one was text, not a tag.
        let Some(close) = rest[1..].find(['<', '>']).map(|i| i + 1) else {
            // A tag cut off by the end of the file.
            break;
        };
        if rest.as_bytes()[close] == b'<' {
            builder.text("<");
            pos = lt + 1;
            continue;
        }
        pos = lt + close + 1;
        let inner = rest[1..close].trim();
        if inner.starts_with(['?', '!']) {
            continue;
        }
        let (line, column) = cursor.locate(lt);
        if let Some(name) = inner.strip_prefix('/') {
            builder.end(&name.trim().to_ascii_uppercase());
        } else {
            let self_closing = inner.ends_with('/');
            let name = inner.trim_end_matches('/').split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if name.is_empty() {
                continue;
            }
            builder.start(name.clone(), line, column)?;
            if self_closing {
                builder.end(&name);
            }
        }
    }
    builder.close_leaf();
    if !builder.seen_ofx {
        return Err(bad(file, 0, None, "this is not an OFX file (it has no <OFX> element)"));
    }
    if builder.stack.iter().any(|&n| builder.nodes[n].name == "OFX") {
        let (line, _) = cursor.locate(text.len());
        let last_line = if text.ends_with('\n') { line.saturating_sub(1).max(1) } else { line };
        return Err(bad(
            file,
            last_line,
            None,
            "the file ends before </OFX>: it is cut off (download the statement again)",
        ));
    }
    Ok(Tree { nodes: builder.nodes })
}

/// Replaces the character entities of SGML and XML; an `&` that starts none stays as it is
/// (SGML files often have bare ones, as in "AT&T").
fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        // Entities are short; looking further would make "&&&&…" quadratic.
        let semicolon = after.bytes().take(12).position(|b| b == b';');
        match semicolon.and_then(|end| entity(&after[..end]).map(|c| (c, end))) {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" | "AMP" => Some('&'),
        "lt" | "LT" => Some('<'),
        "gt" | "GT" => Some('>'),
        "quot" | "QUOT" => Some('"'),
        "apos" | "APOS" => Some('\''),
        "nbsp" | "NBSP" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}
