//! How results are printed: tables for people, JSON for scripts.

use std::collections::HashMap;

use anyhow::Result;
use chrono::NaiveDate;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use expenso_core::{
    Balance, Category, CategoryTotal, MonthSummary, PaymentMethod, Store, Transaction, TransactionPage, Unconverted,
};
use serde::Serialize;
use uuid::Uuid;

pub struct Out {
    pub json: bool,
}

#[derive(Serialize)]
pub struct Summary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Balance,
    pub expenses: Vec<CategoryTotal>,
    pub income: Vec<CategoryTotal>,
    pub trend: Vec<MonthSummary>,
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    t
}

fn right(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Says which currencies have no rate for some transactions, and how to add one.
pub(crate) fn unconverted_note(missing: &[Unconverted]) {
    for u in missing {
        println!(
            "* {} transaction(s) in {} have no exchange rate for their dates (income {}, expenses {}) and are left out \
             of converted totals; add one with `expenso rates fetch` or `expenso rates set {} <rate> --date <day>`.",
            u.count,
            u.currency,
            u.currency.format(u.income),
            u.currency.format(u.expense),
            u.currency
        );
    }
}

/// Names of categories and payment methods by id, for display.
struct Names {
    categories: HashMap<Uuid, String>,
    methods: HashMap<Uuid, String>,
}

impl Names {
    fn of(store: &Store) -> Result<Names> {
        Ok(Names {
            categories: store
                .all_categories()?
                .into_iter()
                .map(|c| (c.id, format!("{} {}", c.icon, c.name).trim().to_string()))
                .collect(),
            methods: store.payment_methods(true)?.into_iter().map(|m| (m.id, m.name)).collect(),
        })
    }

    fn category(&self, id: Uuid) -> &str {
        self.categories.get(&id).map(String::as_str).unwrap_or("?")
    }

    fn method(&self, id: Uuid) -> &str {
        self.methods.get(&id).map(String::as_str).unwrap_or("?")
    }
}

fn signed(t: &Transaction) -> String {
    let sign = if t.kind == expenso_core::Kind::Expense { "-" } else { "+" };
    format!("{sign}{} {}", t.currency.format(t.amount), t.currency)
}

impl Out {
    pub fn message<T: Serialize + ?Sized>(&self, text: &str, value: &T) -> Result<()> {
        if self.json {
            json(value)
        } else {
            println!("{text}");
            Ok(())
        }
    }

    pub fn transaction(&self, store: &Store, t: &Transaction) -> Result<()> {
        if self.json {
            return json(t);
        }
        let names = Names::of(store)?;
        let mut table = table(&["field", "value"]);
        table.add_row(["id", &t.id.to_string()]);
        table.add_row(["kind", t.kind.as_str()]);
        table.add_row(["amount", &signed(t)]);
        let base = store.settings()?.base_currency;
        if t.currency != base {
            let converted = match t.base_amount {
                Some(v) => format!("{} {base} (rate of {})", base.format(v), t.date),
                None => format!("no {} → {base} rate for {} yet", t.currency, t.date),
            };
            table.add_row(["in base currency", &converted]);
        }
        table.add_row(["date", &t.date.to_string()]);
        table.add_row(["category", names.category(t.category_id)]);
        table.add_row(["payment method", names.method(t.payment_method_id)]);
        table.add_row(["description", &t.description]);
        if !t.notes.is_empty() {
            table.add_row(["notes", &t.notes]);
        }
        if !t.tags.is_empty() {
            table.add_row(["tags", &t.tags.join(", ")]);
        }
        for (field, losers) in &t.conflicts {
            table.add_row([format!("conflict: {field}"), format!("also edited to {}", losers.join(", "))]);
        }
        println!("{table}");
        Ok(())
    }

    pub fn transactions(&self, store: &Store, page: &TransactionPage) -> Result<()> {
        if self.json {
            return json(page);
        }
        if page.items.is_empty() {
            println!("No transactions match. Record one with `expenso add 12.50 --category groceries`.");
            return Ok(());
        }
        let names = Names::of(store)?;
        let mut table = table(&["id", "date", "amount", "category", "description", "payment", "tags"]);
        for t in &page.items {
            let id = t.id.simple().to_string();
            table.add_row([
                id[id.len() - 8..].to_string(),
                t.date.to_string(),
                signed(t),
                names.category(t.category_id).to_string(),
                t.description.clone(),
                names.method(t.payment_method_id).to_string(),
                t.tags.join(", "),
            ]);
        }
        right(&mut table, &[2]);
        println!("{table}");
        println!("{} of {} transaction(s)", page.items.len(), page.total);
        Ok(())
    }

    pub fn categories(&self, list: &[Category], usage: &[u64]) -> Result<()> {
        if self.json {
            #[derive(Serialize)]
            struct WithUsage<'a> {
                #[serde(flatten)]
                category: &'a Category,
                transactions: u64,
            }
            let rows: Vec<_> =
                list.iter().zip(usage).map(|(category, &transactions)| WithUsage { category, transactions }).collect();
            return json(&rows);
        }
        let mut table = table(&["kind", "name", "icon", "colour", "transactions", "status", "id"]);
        for (c, n) in list.iter().zip(usage) {
            let status = match (c.archived, c.builtin) {
                (true, _) => "archived",
                (false, true) => "predefined",
                (false, false) => "custom",
            };
            table.add_row([
                c.kind.as_str().to_string(),
                c.name.clone(),
                c.icon.clone(),
                c.color.clone(),
                n.to_string(),
                status.to_string(),
                c.id.to_string(),
            ]);
        }
        right(&mut table, &[4]);
        println!("{table}");
        Ok(())
    }

    pub fn payment_methods(&self, list: &[PaymentMethod]) -> Result<()> {
        if self.json {
            return json(list);
        }
        let mut table = table(&["name", "status", "id"]);
        for m in list {
            let status = if m.archived {
                "archived"
            } else if m.builtin {
                "predefined"
            } else {
                "custom"
            };
            table.add_row([m.name.clone(), status.to_string(), m.id.to_string()]);
        }
        println!("{table}");
        Ok(())
    }

    pub fn summary(&self, s: &Summary) -> Result<()> {
        if self.json {
            return json(s);
        }
        println!("Summary {} – {}", s.from, s.to);
        if s.totals.currencies.is_empty() {
            println!("No transactions in this period.");
        } else {
            let mut t = table(&["currency", "income", "expenses", "net", "transactions"]);
            for x in &s.totals.currencies {
                t.add_row([
                    x.currency.code().to_string(),
                    x.currency.format(x.income),
                    x.currency.format(x.expense),
                    x.currency.format(x.net),
                    x.count.to_string(),
                ]);
            }
            let b = &s.totals.base;
            let foreign = s.totals.currencies.iter().any(|x| x.currency != b.currency);
            if foreign {
                t.add_row([
                    format!("all in {} (converted)", b.currency),
                    b.currency.format(b.income),
                    b.currency.format(b.expense),
                    b.currency.format(b.net),
                    b.count.to_string(),
                ]);
            }
            right(&mut t, &[1, 2, 3, 4]);
            println!("{t}");
            unconverted_note(&s.totals.unconverted);
        }
        for (title, rows) in [("Expenses by category", &s.expenses), ("Income by category", &s.income)] {
            if rows.is_empty() {
                continue;
            }
            println!("{title}");
            let mut t = table(&["category", "amount", "share", "transactions"]);
            for r in rows {
                t.add_row([
                    format!("{} {}", r.icon, r.name).trim().to_string(),
                    format!("{} {}", r.currency.format(r.total), r.currency),
                    format!("{}%", r.percent),
                    r.count.to_string(),
                ]);
            }
            right(&mut t, &[1, 2, 3]);
            println!("{t}");
        }
        println!("Trend (in {}, converted)", s.totals.base.currency);
        let mut t = table(&["month", "income", "expenses", "net"]);
        for m in &s.trend {
            if m.totals.is_empty() {
                t.add_row([m.month.to_string(), "–".into(), "–".into(), "–".into()]);
                continue;
            }
            let (x, cur) = (&m.base, m.base.currency);
            // A month with amounts no rate converts says so rather than showing a short total.
            let mark = if m.unconverted.is_empty() { "" } else { " *" };
            t.add_row([format!("{}{mark}", m.month), cur.format(x.income), cur.format(x.expense), cur.format(x.net)]);
        }
        right(&mut t, &[1, 2, 3]);
        println!("{t}");
        Ok(())
    }
}
