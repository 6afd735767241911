//! Tests of the PDF report: the file's structure, its pages per paper, and its text as a
//! reader sees it (poppler's `pdftotext` and `pdfinfo`, which must be installed).

use std::process::Command;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::model::Kind;
use crate::money::Currency;
use crate::query::Month;
use crate::report::{BudgetLine, Comparison, Line, MonthLine, Period, Report, ReportRow, Summary, Unconverted};

fn currency(code: &str) -> Currency {
    Currency::from_code(code).expect("a known currency")
}

fn cents(value: i64) -> Decimal {
    Decimal::new(value, 2)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// (description, category, kind, amount in cents, currency)
const ENTRIES: &[(&str, &str, Kind, i64, &str)] = &[
    ("Salary January", "Salary", Kind::Income, 412_050, "EUR"),
    ("Rent January", "Rent", Kind::Expense, 145_000, "EUR"),
    ("Café Müller", "Restaurants", Kind::Expense, 1_840, "EUR"),
    ("Żabka", "Groceries", Kind::Expense, 4_599, "PLN"),
    ("Lidl weekly shop", "Groceries", Kind::Expense, 8_734, "EUR"),
    ("Monthly tram pass", "Transport", Kind::Expense, 4_900, "EUR"),
    ("Crème brûlée, Ça Va – €12", "Restaurants", Kind::Expense, 1_200, "EUR"),
    ("Conference hotel in Boston", "Travel", Kind::Expense, 38_900, "USD"),
    ("Freelance logo for Łódź bakery", "Freelance", Kind::Income, 120_000, "PLN"),
    ("Biedronka", "Groceries", Kind::Expense, 13_277, "PLN"),
    ("Salary February", "Salary", Kind::Income, 412_050, "EUR"),
    ("Rent February", "Rent", Kind::Expense, 145_000, "EUR"),
    ("Straßenbahn ticket", "Transport", Kind::Expense, 320, "EUR"),
    ("Smørrebrød lunch", "Restaurants", Kind::Expense, 2_350, "EUR"),
    (
        "Electricity bill Q1 (estimated, including the network fee and taxes for the quarter)",
        "Utilities",
        Kind::Expense,
        21_480,
        "EUR",
    ),
    ("Uber to the airport", "Transport", Kind::Expense, 5_430, "USD"),
    ("Refund from Zalando", "Shopping", Kind::Income, 7_999, "EUR"),
    ("Zalando order", "Shopping", Kind::Expense, 15_998, "EUR"),
    ("Internet", "Utilities", Kind::Expense, 3_999, "EUR"),
    ("Kraków weekend: pierogi & żurek", "Restaurants", Kind::Expense, 18_450, "PLN"),
    ("Salary March", "Salary", Kind::Income, 412_050, "EUR"),
    ("Rent March", "Rent", Kind::Expense, 145_000, "EUR"),
    ("Gym membership", "Health", Kind::Expense, 3_490, "EUR"),
    ("Pharmacy", "Health", Kind::Expense, 1_275, "EUR"),
    ("Books: Ørsted & Šimůnek", "Shopping", Kind::Expense, 4_210, "EUR"),
    ("Dividend ACME", "Investments", Kind::Income, 23_417, "USD"),
    ("Netflix", "Subscriptions", Kind::Expense, 1_399, "EUR"),
    ("Spotify", "Subscriptions", Kind::Expense, 1_099, "EUR"),
    ("Bakery Ölmühle", "Groceries", Kind::Expense, 675, "EUR"),
    ("Fuel", "Transport", Kind::Expense, 7_812, "EUR"),
    ("Lunch with team", "Restaurants", Kind::Expense, 4_560, "EUR"),
    ("Birthday gift for Zoë", "Shopping", Kind::Expense, 6_500, "EUR"),
    ("Water bill", "Utilities", Kind::Expense, 2_870, "EUR"),
    ("Freelance translation", "Freelance", Kind::Income, 64_000, "EUR"),
    ("Cinema", "Entertainment", Kind::Expense, 2_400, "EUR"),
    ("Parking Łódź Kaliska", "Transport", Kind::Expense, 1_500, "PLN"),
    ("Haircut", "Health", Kind::Expense, 3_000, "EUR"),
    ("Phone plan", "Utilities", Kind::Expense, 1_999, "EUR"),
    ("Coffee beans", "Groceries", Kind::Expense, 1_650, "EUR"),
    ("Museum tickets", "Entertainment", Kind::Expense, 3_200, "EUR"),
];

const COLORS: &[(&str, &str)] = &[
    ("Rent", "#3b82f6"),
    ("Groceries", "#22c55e"),
    ("Restaurants", "#f97316"),
    ("Utilities", "#eab308"),
    ("Transport", "#a855f7"),
    ("Shopping", "#ec4899"),
    ("Health", "#14b8a6"),
    ("Subscriptions", "#64748b"),
    ("Entertainment", "#ef4444"),
    ("Salary", "#10b981"),
    ("Freelance", "#0ea5e9"),
    // No usable colour: drawn in a neutral grey.
    ("Investments", "teal"),
];

/// PLN is converted at a fixed rate; USD has no rate at all.
fn convert(amount: Decimal, code: &str) -> Option<(Decimal, Decimal)> {
    match code {
        "EUR" => Some((amount, Decimal::ONE)),
        "PLN" => {
            let rate = Decimal::new(23, 2);
            Some(((amount * rate).round_dp(2), rate))
        }
        _ => None,
    }
}

fn share(part: Decimal, whole: Decimal) -> Decimal {
    if whole.is_zero() {
        Decimal::ZERO
    } else {
        (part * Decimal::ONE_HUNDRED / whole).round_dp(1)
    }
}

/// A quarter's report built by hand as `Store::report` would: EUR base, PLN converted, USD
/// without a rate, colourful categories, three months, two tags and one budget.
fn report_with(rows: usize) -> Report {
    let eur = currency("EUR");
    let mut transactions = Vec::new();
    for i in 0..rows {
        let (description, category, kind, amount, code) = ENTRIES[i % ENTRIES.len()];
        let when = date(2025, 1, 1) + Duration::days((i * 90 / rows.max(1)) as i64);
        let amount = cents(amount);
        let converted = convert(amount, code);
        transactions.push(ReportRow {
            id: Uuid::new_v4(),
            date: when,
            kind,
            description: description.to_string(),
            category: category.to_string(),
            payment_method: ["Visa •••• 4242", "Cash", "Bank transfer", "Revolut"][i % 4].to_string(),
            tags: if i % 3 == 0 { vec!["family".to_string()] } else { vec!["work".to_string()] },
            notes: String::new(),
            amount,
            currency: currency(code),
            converted: converted.map(|(c, _)| c),
            rate: converted.map(|(_, r)| r),
        });
    }

    let mut summary = Summary { income: Decimal::ZERO, expense: Decimal::ZERO, net: Decimal::ZERO, count: 0 };
    let mut months: Vec<MonthLine> = (1..=3)
        .map(|m| MonthLine {
            month: Month { year: 2025, month: m },
            income: Decimal::ZERO,
            expense: Decimal::ZERO,
            net: Decimal::ZERO,
            count: 0,
        })
        .collect();
    let mut unconverted: Vec<Unconverted> = Vec::new();
    let by = |lines: &mut Vec<Line>, key: &str, color: Option<&str>, kind: Kind, value: Decimal| match lines
        .iter_mut()
        .find(|l| l.key == key && l.kind == kind)
    {
        Some(line) => {
            line.total += value;
            line.count += 1;
        }
        None => lines.push(Line {
            key: key.to_string(),
            name: key.to_string(),
            color: color.map(str::to_string),
            kind,
            total: value,
            count: 1,
            percent: Decimal::ZERO,
        }),
    };
    let (mut categories, mut methods, mut tags) = (Vec::new(), Vec::new(), Vec::new());
    for row in &transactions {
        let Some(value) = row.converted else {
            let entry = match unconverted.iter_mut().find(|u| u.currency == row.currency) {
                Some(entry) => entry,
                None => {
                    unconverted.push(Unconverted {
                        currency: row.currency,
                        count: 0,
                        income: Decimal::ZERO,
                        expense: Decimal::ZERO,
                    });
                    unconverted.last_mut().expect("just pushed")
                }
            };
            entry.count += 1;
            match row.kind {
                Kind::Income => entry.income += row.amount,
                Kind::Expense => entry.expense += row.amount,
            }
            continue;
        };
        summary.count += 1;
        let month = &mut months[row.date.month0() as usize];
        month.count += 1;
        match row.kind {
            Kind::Income => {
                summary.income += value;
                month.income += value;
            }
            Kind::Expense => {
                summary.expense += value;
                month.expense += value;
            }
        }
        let color = COLORS.iter().find(|(name, _)| *name == row.category).map(|(_, c)| *c);
        by(&mut categories, &row.category, color, row.kind, value);
        by(&mut methods, &row.payment_method, None, row.kind, value);
        for tag in &row.tags {
            by(&mut tags, tag, None, row.kind, value);
        }
    }
    summary.net = summary.income - summary.expense;
    for month in &mut months {
        month.net = month.income - month.expense;
    }
    for lines in [&mut categories, &mut methods, &mut tags] {
        for line in lines.iter_mut() {
            let whole = if line.kind == Kind::Income { summary.income } else { summary.expense };
            line.percent = share(line.total, whole);
        }
        lines.sort_by(|a, b| (a.kind == Kind::Income).cmp(&(b.kind == Kind::Income)).then(b.total.cmp(&a.total)));
    }

    let previous = Summary { income: cents(830_000), expense: cents(610_055), net: cents(219_945), count: 35 };
    let change = |now: Decimal, before: Decimal| Some(((now - before) * Decimal::ONE_HUNDRED / before).round_dp(1));
    let groceries =
        categories.iter().find(|l| l.key == "Groceries" && l.kind == Kind::Expense).map_or(Decimal::ZERO, |l| l.total);
    Report {
        title: "Household finances".to_string(),
        period: Period { from: date(2025, 1, 1), to: date(2025, 3, 31), label: "Q1 2025".to_string() },
        base_currency: eur,
        generated_at: Utc.with_ymd_and_hms(2025, 4, 2, 9, 15, 0).single().expect("a valid time"),
        previous: Comparison {
            period: Period { from: date(2024, 10, 1), to: date(2024, 12, 31), label: "Q4 2024".to_string() },
            income_change: change(summary.income, previous.income),
            expense_change: change(summary.expense, previous.expense),
            net_change: change(summary.net, previous.net),
            summary: previous,
        },
        summary,
        categories,
        payment_methods: methods,
        tags,
        months,
        budgets: vec![BudgetLine {
            budget_id: Uuid::new_v4(),
            name: "Groceries".to_string(),
            from: date(2025, 3, 1),
            to: date(2025, 3, 31),
            limit: cents(40_000),
            actual: groceries,
            remaining: cents(40_000) - groceries,
            percent: share(groceries, cents(40_000)),
        }],
        unconverted,
        transactions,
    }
}

fn sample() -> Report {
    report_with(ENTRIES.len())
}

// ---------------------------------------------------------------------------------------------
// Poppler.

/// Runs a poppler tool on the PDF; a missing tool fails the test, since the text check is the
/// point of these tests.
fn poppler(tool: &str, pdf: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).expect("writing the PDF to a temporary file");
    let path = path.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&path);
    if tool == "pdftotext" {
        all.push("-");
    }
    let output = match Command::new(tool).args(&all).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` is not installed: install poppler-utils (apt-get install -y poppler-utils)")
        }
        Err(e) => panic!("running {tool}: {e}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{tool} failed: {stderr}");
    // Poppler reports any structural problem (a bad xref, a broken font) on stderr.
    assert!(stderr.trim().is_empty(), "{tool} complained: {stderr}");
    String::from_utf8(output.stdout).expect("poppler writes UTF-8")
}

fn text(pdf: &[u8]) -> String {
    poppler("pdftotext", pdf, &["-enc", "UTF-8"])
}

fn page_text(pdf: &[u8], page: usize) -> String {
    let page = page.to_string();
    poppler("pdftotext", pdf, &["-enc", "UTF-8", "-f", &page, "-l", &page])
}

fn info(pdf: &[u8], field: &str) -> String {
    let out = poppler("pdfinfo", pdf, &[]);
    let line = out.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("pdfinfo has no {field}: {out}"));
    line[field.len()..].trim_start_matches(':').trim().to_string()
}

fn pages(pdf: &[u8]) -> usize {
    info(pdf, "Pages").parse().expect("a page count")
}

// ---------------------------------------------------------------------------------------------

#[test]
fn output_is_a_complete_pdf() {
    let pdf = render(&sample(), Paper::A4);
    assert!(pdf.starts_with(b"%PDF-"), "starts with {:?}", &pdf[..8]);
    assert!(pdf.ends_with(b"%%EOF"), "ends with {:?}", String::from_utf8_lossy(&pdf[pdf.len() - 16..]));
    // The fonts go in as subsets, not whole (each face is about 400 KB).
    assert!(pdf.len() < 120_000, "{} bytes", pdf.len());
}

#[test]
fn pages_have_the_papers_size_and_are_numbered() {
    let report = report_with(400);
    let a4 = render(&report, Paper::A4);
    let letter = render(&report, Paper::Letter);
    assert!(info(&a4, "Page size").starts_with("595 x 842 pts"), "{}", info(&a4, "Page size"));
    assert!(info(&letter, "Page size").starts_with("612 x 792 pts"), "{}", info(&letter, "Page size"));

    let (a4_pages, letter_pages) = (pages(&a4), pages(&letter));
    // 400 rows at about 50 a page, after the page of summary and breakdowns.
    assert!((8..=12).contains(&a4_pages), "{a4_pages} A4 pages");
    // Letter is shorter, so the same rows need at least as many pages.
    assert!(letter_pages >= a4_pages, "{letter_pages} Letter pages, {a4_pages} A4 pages");
    for (pdf, count) in [(&a4, a4_pages), (&letter, letter_pages)] {
        assert!(page_text(pdf, 1).contains(&format!("Page 1 of {count}")));
        assert!(page_text(pdf, count).contains(&format!("Page {count} of {count}")));
    }

    // The sample: summary and charts, then the tables, then its 40 rows on a page of their own.
    assert_eq!(pages(&render(&sample(), Paper::A4)), 3);
}

#[test]
fn text_extracts_as_written() {
    let report = sample();
    let text = text(&render(&report, Paper::A4));
    for expected in [
        "Household finances",
        "Q1 2025",
        "Q4 2024",
        "1 Jan 2025 – 31 Mar 2025",
        "Base currency",
        "Generated 2 Apr 2025 09:15 UTC",
        // The period's totals, exact and grouped.
        "13,357.49 EUR",
        "5,506.61 EUR",
        "7,850.88 EUR",
        // The previous period's, and the change.
        "8,300.00 EUR",
        "6,100.55 EUR",
        "Café Müller",
        "Żabka",
        "Crème brûlée, Ça Va – €12",
        "Books: Ørsted & Šimůnek",
        "Page 1 of 3",
        "Page 3 of 3",
        "no rate",
        "Not included in the totals",
        // USD has no rate: its own figures, in USD.
        "USD: 3 transactions — income 234.17 USD, expenses 443.30 USD",
        "March 2025",
        "Visa •••• 4242",
        "family",
        "Groceries",
        "-1,450.00 EUR",
        "+4,120.50 EUR",
        "-45.99 PLN",
        "-10.58 EUR",
    ] {
        assert!(text.contains(expected), "{expected:?} is missing from:\n{text}");
    }
    // Every summary figure comes from the report, not recomputed.
    assert!(text.contains(&money(report.summary.income, report.base_currency)));
    assert!(text.contains(&money(report.summary.net, report.base_currency)));
}

#[test]
fn large_amounts_keep_every_digit() {
    let mut report = sample();
    report.summary.income = Decimal::new(123_456_789_012, 2);
    report.summary.net = Decimal::new(-98_765_432_109, 2);
    let text = text(&render(&report, Paper::Letter));
    assert!(text.contains("1,234,567,890.12 EUR"), "{text}");
    assert!(text.contains("-987,654,321.09 EUR"), "{text}");
}

#[test]
fn the_header_repeats_on_every_page_of_the_list() {
    let report = report_with(400);
    let pdf = render(&report, Paper::A4);
    let count = pages(&pdf);
    let first =
        (1..=count).find(|&p| page_text(&pdf, p).contains("Transactions (400)")).expect("the list's first page");
    assert!(first < count, "the list runs over several pages");
    for page in first..=count {
        let text = page_text(&pdf, page);
        for column in ["Date", "Description", "Category", "Payment", "Amount", "In EUR"] {
            assert!(text.contains(column), "page {page} lacks the {column:?} header:\n{text}");
        }
        assert!(text.contains(&format!("Page {page} of {count}")));
        assert!(text.contains("Household finances"), "page {page} lacks the title in its footer");
    }
    assert!(page_text(&pdf, first + 1).contains("Transactions (continued)"));
}

#[test]
fn long_text_is_cut_with_an_ellipsis() {
    let text = text(&render(&sample(), Paper::A4));
    assert!(text.contains("Electricity bill Q1"), "{text}");
    assert!(!text.contains("taxes for the quarter)"), "the description was not cut:\n{text}");
    assert!(text.contains('…'), "no ellipsis in:\n{text}");
}

#[test]
fn characters_the_font_lacks_print_as_question_marks() {
    let mut report = sample();
    report.transactions[0].description = "Tea 🍵 at 漢字 bar".to_string();
    report.title = "Budget\tof the year\n2025".to_string();
    let pdf = render(&report, Paper::A4);
    let text = text(&pdf);
    assert!(text.contains("Tea ? at ?? bar"), "{text}");
    assert!(text.contains("Budget of the year 2025"), "{text}");
}

#[test]
fn an_empty_period_says_so() {
    let mut report = sample();
    report.transactions.clear();
    report.categories.clear();
    report.payment_methods.clear();
    report.tags.clear();
    report.unconverted.clear();
    report.budgets.clear();
    report.summary = Summary { income: Decimal::ZERO, expense: Decimal::ZERO, net: Decimal::ZERO, count: 0 };
    for month in &mut report.months {
        *month = MonthLine {
            month: month.month,
            income: Decimal::ZERO,
            expense: Decimal::ZERO,
            net: Decimal::ZERO,
            count: 0,
        };
    }
    let pdf = render(&report, Paper::A4);
    let text = text(&pdf);
    assert!(text.contains("No transactions in this period"), "{text}");
    assert!(text.contains("No expenses in this period"), "{text}");
    assert!(!text.contains("Not included in the totals"), "{text}");
    assert!(!text.contains("Budgets"), "{text}");
    assert!(text.contains("0.00 EUR"), "{text}");
}

#[test]
fn amounts_are_grouped_from_the_exact_decimal() {
    let eur = currency("EUR");
    assert_eq!(money(Decimal::new(123_456, 2), eur), "1,234.56 EUR");
    assert_eq!(money(Decimal::new(-123_456_789, 2), eur), "-1,234,567.89 EUR");
    assert_eq!(money(Decimal::new(5, 0), eur), "5.00 EUR");
    assert_eq!(money(Decimal::new(-0, 2), eur), "0.00 EUR");
    assert_eq!(money(Decimal::new(999_999, 2), eur), "9,999.99 EUR");
    assert_eq!(money(Decimal::new(100_000_000, 0), currency("JPY")), "100,000,000 JPY");
    assert_eq!(money(Decimal::new(1_234_567, 3), currency("BHD")), "1,234.567 BHD");
    // Beyond f64's 15–17 significant digits.
    assert_eq!(money(Decimal::new(1_234_567_890_123_456_789, 2), eur), "12,345,678,901,234,567.89 EUR");
    assert_eq!(group_digits("123"), "123");
    assert_eq!(group_digits("1234"), "1,234");
    assert_eq!(percent(Decimal::new(1234, 2)), "12.3%");
    assert_eq!(percent(Decimal::new(125, 2)), "1.3%");
    assert_eq!(signed_percent(Decimal::new(125, 1)), "+12.5%");
    assert_eq!(signed_percent(Decimal::new(-30, 1)), "-3.0%");
    assert_eq!(signed_percent(Decimal::ZERO), "0.0%");
    assert_eq!(percent_change(Decimal::from(40), Decimal::from(35)), Some(Decimal::new(143, 1)));
    assert_eq!(percent_change(Decimal::from(40), Decimal::ZERO), None);
}

#[test]
fn the_fonts_cover_latin_1_latin_extended_a_and_the_euro() {
    for data in [REGULAR_TTF, BOLD_TTF] {
        let face = ttf_parser::Face::parse(data, 0).expect("the font parses");
        let wanted = (0x20..=0x7e).chain(0xa0..=0x17f).filter_map(char::from_u32).chain(['€', '…', '–', '—', '•', '·']);
        for c in wanted {
            assert!(face.glyph_index(c).is_some_and(|g| g.0 != 0), "{c:?} (U+{:04X}) has no glyph", u32::from(c));
        }
    }
    // And every one of them goes through the subsetter and out again as text.
    let mut report = sample();
    let all: Vec<char> = (0xa1..=0x17f).filter_map(char::from_u32).filter(|c| !c.is_whitespace()).collect();
    // In rows of 16, so that no description is cut.
    for (row, chunk) in all.chunks(16).enumerate() {
        report.transactions[row].description = chunk.iter().collect();
    }
    let text = text(&render(&report, Paper::A4));
    for &c in all.iter().filter(|c| c.is_alphabetic()) {
        assert!(text.contains(c), "{c:?} did not come back out");
    }
}

#[test]
fn colours_are_read_from_hex() {
    assert_eq!(Rgb::parse("#22c55e"), Some(Rgb(0x22, 0xc5, 0x5e)));
    assert_eq!(Rgb::parse("#FFF"), None);
    assert_eq!(Rgb::parse("teal"), None);
    assert_eq!(Rgb::parse("#zzzzzz"), None);
    assert_eq!(Rgb::parse("#ééé"), None);
}

#[test]
fn budget_periods_are_named() {
    assert_eq!(span(date(2025, 3, 1), date(2025, 3, 31)), "March 2025");
    assert_eq!(span(date(2025, 1, 1), date(2025, 12, 31)), "2025");
    assert_eq!(span(date(2025, 3, 10), date(2025, 4, 9)), "10 Mar 2025 – 9 Apr 2025");
}

#[test]
fn many_currencies_without_a_rate_run_onto_the_next_page() {
    let mut report = sample();
    report.unconverted = Currency::all()
        .take(90)
        .map(|currency| Unconverted { currency, count: 2, income: Decimal::ZERO, expense: Decimal::new(123_456, 0) })
        .collect();
    let pdf = render(&report, Paper::A4);
    let text = text(&pdf);
    for u in &report.unconverted {
        let line = format!("{}: 2 transactions", u.currency.code());
        assert!(text.contains(&line), "{line:?} is missing");
    }
    // 90 lines do not fit under the summary: the first is on page 1, the last further on.
    let first = report.unconverted[0].currency.code();
    let last = report.unconverted[89].currency.code();
    assert!(page_text(&pdf, 1).contains(&format!("{first}: 2")));
    let at = (1..=pages(&pdf)).find(|&p| page_text(&pdf, p).contains(&format!("{last}: 2")));
    assert!(at.is_some_and(|p| p > 1), "{last} is on page {at:?}");
}
