//! `expenso rates`: the exchange rates totals convert with — the ECB's daily reference rates,
//! fetched when online, and rates typed by hand, which win on their date.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use chrono::{Local, Utc};
use clap::Subcommand;
use expenso_core::rates::fetch::{refresh_rates, RateSourceUrl};
use expenso_core::{Currency, NewRate, Store};

use crate::output::{table, unconverted_note, Out};

#[derive(Subcommand)]
pub enum RatesCommand {
    /// The newest ECB rates held, the manual rates, and what has no rate.
    List,
    /// Fetch the ECB's reference rates this ledger needs (the last 90 days, or the whole
    /// history when older transactions need it). Address: EXPENSO_ECB_URL, else the ECB.
    Fetch {
        /// Fetch even when the rates held are current.
        #[arg(long)]
        force: bool,
    },
    /// Set a rate by hand: 1 FROM = RATE TO on a date (TO defaults to the base currency).
    Set {
        /// The currency one unit of which is priced, e.g. USD.
        from: String,
        /// How many TO one FROM is worth, e.g. 0.92.
        rate: String,
        #[arg(long)]
        to: Option<String>,
        /// YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<String>,
    },
    /// Remove a rate set by hand.
    Delete {
        from: String,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        date: String,
    },
}

pub fn rates(store: Store, command: RatesCommand, out: &Out) -> Result<()> {
    match command {
        RatesCommand::List => {
            let overview = store.rates_overview()?;
            if out.json {
                return out.message("", &overview);
            }
            println!("Base currency: {}", overview.base_currency);
            match overview.ecb_latest {
                Some(day) => {
                    println!(
                        "ECB reference rates held: {} – {day}; newest (1 EUR =):",
                        overview.ecb_first.unwrap_or(day)
                    );
                    let mut t = table(&["currency", "rate"]);
                    for r in &overview.ecb_rates {
                        t.add_row([r.to.code().to_string(), r.rate.to_string()]);
                    }
                    println!("{t}");
                }
                None => println!("No ECB rates held (`expenso rates fetch` gets them)."),
            }
            if !overview.manual.is_empty() {
                println!("Rates set by hand:");
                let mut t = table(&["date", "rate"]);
                for r in &overview.manual {
                    t.add_row([r.date.to_string(), format!("1 {} = {} {}", r.from, r.rate, r.to)]);
                }
                println!("{t}");
            }
            unconverted_note(&overview.unconverted);
            Ok(())
        }
        RatesCommand::Fetch { force } => {
            let store = Arc::new(Mutex::new(store));
            let source = RateSourceUrl::from_env();
            let outcome = crate::account::runtime()?.block_on(refresh_rates(
                &store,
                &source,
                Local::now().date_naive(),
                Utc::now(),
                force,
            ))?;
            let text = match outcome.feed {
                None => "The rates held are current; nothing to fetch.".to_string(),
                Some(_) => format!("Fetched the ECB's rates: {} day(s) added or changed.", outcome.days),
            };
            out.message(&text, &outcome)
        }
        RatesCommand::Set { from, rate, to, date } => {
            let mut store = store;
            let input = NewRate { from, to, date: date.unwrap_or_else(|| Local::now().date_naive().to_string()), rate };
            let r = store.set_rate(&input, Utc::now())?;
            out.message(&format!("1 {} = {} {} from {}", r.from, r.rate, r.to, r.date), &r)
        }
        RatesCommand::Delete { from, to, date } => {
            let mut store = store;
            let from: Currency = from.parse()?;
            let to = match to {
                Some(code) => code.parse()?,
                None => store.settings()?.base_currency,
            };
            let date = expenso_core::model::parse_date("date", &date)?;
            store.delete_rate(from, to, date, Utc::now())?;
            out.message(
                &format!("Removed the rate of {from} in {to} on {date}"),
                &serde_json::json!({ "deleted": true }),
            )
        }
    }
}
