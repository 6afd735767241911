//! `expenso`: ExpensoTrack's command line over the same core as the apps.
//!
//! Readable tables by default, `--json` for scripts. An error is one line on stderr and a
//! non-zero exit code (1 for a refused operation, 2 for a mistyped command).

mod account;
mod output;
mod plans;
mod rates;
mod reports;
mod statements;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::{Local, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use expenso_core::sample::Workload;
use expenso_core::{
    ActorId, Backup, CategoryPatch, Currency, Decimal, Filter, Kind, Month, NewCategory, NewTransaction, PageRequest,
    Sort, SortBy, Store, TransactionPatch,
};
use uuid::Uuid;

use crate::output::Out;

#[derive(Parser)]
#[command(name = "expenso", version, about = "ExpensoTrack: a local-first expense and income tracker")]
struct Cli {
    /// Folder that holds the ledger (default: the platform's data folder).
    #[arg(long, global = true, env = "EXPENSO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new ledger.
    Init {
        /// The currency totals are reported in.
        #[arg(long, default_value = "EUR")]
        currency: String,
    },
    /// Record an expense (or an income with --income).
    Add(AddArgs),
    /// Change fields of a transaction.
    Edit(EditArgs),
    /// Delete a transaction.
    Delete {
        /// Transaction id (or a unique prefix of it).
        id: String,
    },
    /// Show one transaction in full.
    Show { id: String },
    /// List transactions, filtered, sorted and paged.
    List(ListArgs),
    /// Manage categories.
    #[command(subcommand)]
    Categories(CategoryCommand),
    /// Manage payment methods.
    #[command(subcommand, name = "payment-methods")]
    PaymentMethods(PaymentMethodCommand),
    /// Balance, category breakdown and monthly trend for a period.
    Summary(SummaryArgs),
    /// Budgets per category or overall, monthly or annual, with alerts.
    #[command(subcommand)]
    Budgets(plans::BudgetCommand),
    /// Alerts raised by budgets.
    Alerts(plans::AlertsArgs),
    /// Recurring expenses and income, and upcoming bills.
    #[command(subcommand)]
    Recurring(plans::RecurringCommand),
    /// Book the recurring transactions that are due, raise budget alerts, show reminders.
    Due,
    /// Exchange rates: the ECB's, fetched when online, and rates set by hand.
    #[command(subcommand)]
    Rates(rates::RatesCommand),
    /// Show or change ledger settings.
    Settings {
        /// Set the base currency (ISO 4217 code).
        #[arg(long)]
        currency: Option<String>,
    },
    /// Write the whole ledger as a JSON backup.
    Export {
        /// File to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Import a bank statement (CSV, OFX/QFX, QIF: --preview first), or restore a JSON backup
    /// (records are matched by id).
    Import {
        file: PathBuf,
        #[command(flatten)]
        statement: statements::StatementArgs,
    },
    /// A report for a period (this month by default): tables, CSV or PDF.
    Report(reports::ReportArgs),
    /// Book generated sample transactions, to try the app out.
    SampleData {
        #[arg(long, default_value_t = 200)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Transactions per change (1 books them one by one, as a person would).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Print each booked transaction's id as soon as it is stored.
        #[arg(long)]
        print_ids: bool,
    },
    /// Create an account on a sync server and sync this device's ledger with it.
    Signup(account::SignInArgs),
    /// Log in to your account on a sync server; this device's ledger joins the account's.
    Login(account::SignInArgs),
    /// Log out of the sync server (the ledger stays here unless --wipe).
    Logout(account::LogoutArgs),
    /// Send this device's changes to the server and receive the others', until both agree.
    Sync(account::SyncArgs),
    /// Who is logged in, when the ledger last synced, what waits to go up.
    Status,
    /// Check that the ledger's view agrees with its document.
    Check,
    /// Fold the ledger's change history into a compact snapshot.
    Compact,
}

#[derive(Args)]
struct AddArgs {
    /// Amount, e.g. 12.50 (always positive; use --income for money coming in).
    #[arg(allow_hyphen_values = true)]
    amount: String,
    /// Record an income instead of an expense.
    #[arg(long)]
    income: bool,
    /// Category name or id.
    #[arg(long, short)]
    category: String,
    /// Date, YYYY-MM-DD (default: today).
    #[arg(long)]
    date: Option<String>,
    /// ISO 4217 currency (default: the ledger's base currency).
    #[arg(long)]
    currency: Option<String>,
    #[arg(long, short, default_value = "")]
    description: String,
    /// cash, card, bank_transfer, other, or a payment method you added.
    #[arg(long, short)]
    payment_method: Option<String>,
    #[arg(long, default_value = "")]
    notes: String,
    /// A tag (repeat for several).
    #[arg(long = "tag", short)]
    tags: Vec<String>,
}

#[derive(Args)]
struct EditArgs {
    id: String,
    #[arg(long, allow_hyphen_values = true)]
    amount: Option<String>,
    /// expense or income (give a --category of that kind too).
    #[arg(long)]
    kind: Option<String>,
    #[arg(long, short)]
    category: Option<String>,
    #[arg(long)]
    date: Option<String>,
    #[arg(long)]
    currency: Option<String>,
    #[arg(long, short)]
    description: Option<String>,
    #[arg(long, short)]
    payment_method: Option<String>,
    #[arg(long)]
    notes: Option<String>,
    /// Replace the tags (repeat for several).
    #[arg(long = "tag", short)]
    tags: Vec<String>,
    /// Remove all tags.
    #[arg(long, conflicts_with = "tags")]
    clear_tags: bool,
}

#[derive(Args)]
struct ListArgs {
    /// First day (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Last day (YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// A whole month (YYYY-MM), instead of --from/--to.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// expense or income.
    #[arg(long)]
    kind: Option<String>,
    /// Category name or id (repeat for several).
    #[arg(long = "category", short)]
    categories: Vec<String>,
    /// Payment method (repeat for several).
    #[arg(long = "payment-method", short)]
    payment_methods: Vec<String>,
    /// Smallest amount.
    #[arg(long)]
    min: Option<String>,
    /// Largest amount.
    #[arg(long)]
    max: Option<String>,
    /// Tag (repeat for any of several).
    #[arg(long = "tag", short)]
    tags: Vec<String>,
    /// Words to find in descriptions and notes.
    #[arg(long, short)]
    search: Option<String>,
    /// date, amount, description or created.
    #[arg(long, default_value = "date")]
    sort: String,
    /// Oldest / smallest first.
    #[arg(long)]
    asc: bool,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

#[derive(Subcommand)]
enum CategoryCommand {
    /// List categories.
    List {
        /// Include archived categories.
        #[arg(long)]
        all: bool,
    },
    /// Create a category.
    Add {
        name: String,
        /// expense or income.
        #[arg(long)]
        kind: String,
        /// Colour as #rrggbb.
        #[arg(long)]
        color: Option<String>,
        #[arg(long)]
        icon: Option<String>,
    },
    /// Rename, recolour, change the icon of, archive or unarchive a category.
    Edit {
        category: String,
        /// Which kind the name refers to, when both kinds have it ("Other").
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        color: Option<String>,
        #[arg(long)]
        icon: Option<String>,
        #[arg(long, conflicts_with = "unarchive")]
        archive: bool,
        #[arg(long)]
        unarchive: bool,
    },
    /// Delete a category; its transactions move to --move-to.
    Delete {
        category: String,
        #[arg(long)]
        kind: Option<String>,
        /// Category that receives the transactions.
        #[arg(long)]
        move_to: Option<String>,
    },
}

#[derive(Subcommand)]
enum PaymentMethodCommand {
    List {
        #[arg(long)]
        all: bool,
    },
    Add {
        name: String,
    },
    Edit {
        method: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "unarchive")]
        archive: bool,
        #[arg(long)]
        unarchive: bool,
    },
}

#[derive(Args)]
struct SummaryArgs {
    /// A month (YYYY-MM; default: this month).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// Months in the trend, ending with the period's last month.
    #[arg(long, default_value_t = 12)]
    months: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out { json: cli.json };
    match run(cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn ledger_path(data_dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => default_data_dir().context("no data folder: pass --data-dir or set EXPENSO_DATA_DIR")?,
    };
    Ok(dir.join("ledger.db"))
}

fn default_data_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("expenso"));
    }
    if let Some(appdata) = std::env::var_os("APPDATA") {
        return Some(PathBuf::from(appdata).join("ExpensoTrack"));
    }
    let home = PathBuf::from(std::env::var_os("HOME")?);
    if cfg!(target_os = "macos") {
        Some(home.join("Library/Application Support/ExpensoTrack"))
    } else {
        Some(home.join(".local/share/expenso"))
    }
}

fn run(cli: Cli, out: &Out) -> Result<()> {
    let path = ledger_path(cli.data_dir.as_deref())?;
    if let Command::Init { currency } = &cli.command {
        let currency: Currency = currency.parse()?;
        let actor = ActorId::from(Uuid::new_v4().as_bytes().as_slice());
        Store::create(&path, actor, currency, Utc::now())?;
        return out.message(
            &format!("Created a ledger in {} (base currency {currency})", path.display()),
            &serde_json::json!({ "path": path, "base_currency": currency }),
        );
    }
    match &cli.command {
        Command::Signup(args) => return account::sign_in(&path, args, true, out),
        Command::Login(args) => return account::sign_in(&path, args, false, out),
        Command::Logout(args) => return account::logout(&path, args, out),
        Command::Sync(args) => return account::sync(&path, args, out),
        Command::Status => return account::status(&path, out),
        _ => {}
    }
    let mut store = Store::open(&path)?;
    let now = Utc::now;
    match cli.command {
        Command::Init { .. }
        | Command::Signup(_)
        | Command::Login(_)
        | Command::Logout(_)
        | Command::Sync(_)
        | Command::Status => unreachable!("handled above"),
        Command::Add(a) => {
            let input = NewTransaction {
                kind: Some(if a.income { Kind::Income } else { Kind::Expense }),
                amount: a.amount,
                currency: a.currency,
                date: a.date.unwrap_or_else(|| Local::now().date_naive().to_string()),
                category: a.category,
                payment_method: a.payment_method,
                description: a.description,
                notes: a.notes,
                tags: a.tags,
            };
            let t = store.add_transaction(&input, Uuid::now_v7(), now())?;
            out.transaction(&store, &t)
        }
        Command::Edit(e) => {
            let id = resolve_id(&store, &e.id)?;
            let patch = TransactionPatch {
                kind: e.kind.as_deref().map(str::parse).transpose()?,
                amount: e.amount,
                currency: e.currency,
                date: e.date,
                category: e.category,
                payment_method: e.payment_method,
                description: e.description,
                notes: e.notes,
                tags: if e.clear_tags {
                    Some(Vec::new())
                } else if e.tags.is_empty() {
                    None
                } else {
                    Some(e.tags)
                },
            };
            let t = store.edit_transaction(id, &patch, now())?;
            out.transaction(&store, &t)
        }
        Command::Delete { id } => {
            let id = resolve_id(&store, &id)?;
            let t = store.delete_transaction(id, now())?;
            out.message(&format!("Deleted {} {} {} on {}", t.kind, t.currency.format(t.amount), t.currency, t.date), &t)
        }
        Command::Show { id } => {
            let id = resolve_id(&store, &id)?;
            let t = store.transaction(id)?.context("no such transaction")?;
            out.transaction(&store, &t)
        }
        Command::List(l) => {
            let filter = list_filter(&store, &l)?;
            let sort = Sort { by: l.sort.parse::<SortBy>()?, descending: !l.asc };
            let page = store.list_transactions(&filter, sort, PageRequest { offset: l.offset, limit: l.limit })?;
            out.transactions(&store, &page)
        }
        Command::Categories(c) => categories(&mut store, c, out),
        Command::PaymentMethods(p) => payment_methods(&mut store, p, out),
        Command::Summary(s) => summary(&store, s, out),
        Command::Budgets(b) => plans::budgets(&mut store, b, out),
        Command::Alerts(a) => plans::alerts(&mut store, a, out),
        Command::Recurring(r) => plans::recurring(&mut store, r, out),
        Command::Due => plans::due(&mut store, out),
        Command::Rates(command) => rates::rates(store, command, out),
        Command::Report(args) => reports::report(&store, args, out),
        Command::Settings { currency } => {
            if let Some(code) = currency {
                store.set_base_currency(&code, now())?;
            }
            let settings = store.settings()?;
            out.message(&format!("Base currency: {}", settings.base_currency), &settings)
        }
        Command::Export { output } => {
            let json = store.export_backup()?.to_json();
            match output {
                Some(file) => {
                    write_atomically(&file, json.as_bytes())
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    eprintln!("Exported {} transactions to {}", store.transaction_count()?, file.display());
                }
                None => println!("{json}"),
            }
            Ok(())
        }
        Command::Import { file, statement } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            // A backup is a JSON object; anything else is a bank statement.
            if !bytes.trim_ascii_start().starts_with(b"{") {
                return statements::import_statement(&mut store, &file, &bytes, &statement, out);
            }
            let text = String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", file.display()))?;
            let backup = Backup::from_json(&text).with_context(|| format!("{}", file.display()))?;
            let summary = store.restore_backup(&backup, now()).with_context(|| format!("{}", file.display()))?;
            out.message(
                &format!(
                    "Imported {} transactions, {} categories, {} payment methods",
                    summary.transactions, summary.categories, summary.payment_methods
                ),
                &summary,
            )
        }
        Command::SampleData { count, seed, batch, print_ids } => {
            let today = Local::now().date_naive();
            let mut workload = Workload::prepare(&mut store, seed, today, now())?;
            let mut stdout = std::io::stdout().lock();
            workload.fill_reporting(&mut store, count, batch, now(), |ids| {
                if print_ids {
                    for id in ids {
                        writeln!(stdout, "{id}")?;
                    }
                    stdout.flush()?;
                }
                Ok(())
            })?;
            drop(stdout);
            if !print_ids {
                out.message(&format!("Booked {count} sample transactions"), &serde_json::json!({ "booked": count }))?;
            }
            Ok(())
        }
        Command::Check => match store.verify()? {
            Ok(()) => out.message(
                &format!("ok: the view matches the document ({} transactions)", store.transaction_count()?),
                &serde_json::json!({ "ok": true, "transactions": store.transaction_count()? }),
            ),
            Err(reason) => {
                bail!("the view does not match the document: {reason}; it can be rebuilt with `expenso compact`")
            }
        },
        Command::Compact => {
            store.compact()?;
            store.rebuild_view()?;
            let stats = store.storage_stats()?;
            out.message(
                &format!("Compacted: document snapshot {} bytes", stats.snapshot_bytes),
                &serde_json::json!({ "snapshot_bytes": stats.snapshot_bytes }),
            )
        }
    }
}

/// A full id, or a prefix that matches exactly one transaction.
fn resolve_id(store: &Store, text: &str) -> Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(text.trim()) {
        return Ok(id);
    }
    let matches = store.transaction_ids_matching(text.trim(), 2)?;
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no transaction with id {:?}", text.trim()),
        _ => bail!("more than one transaction matches {:?}; give more of the id", text.trim()),
    }
}

fn date(field: &str, text: &str) -> Result<NaiveDate> {
    Ok(expenso_core::model::parse_date(field, text)?)
}

fn amount(field: &str, text: &str) -> Result<Decimal> {
    text.trim().parse::<Decimal>().map_err(|_| anyhow::anyhow!("{field}: {text:?} is not a number"))
}

fn list_filter(store: &Store, l: &ListArgs) -> Result<Filter> {
    let kind: Option<Kind> = l.kind.as_deref().map(str::parse).transpose()?;
    let (from, to) = match &l.month {
        Some(m) => {
            let m: Month = m.parse()?;
            (Some(m.first_day()), Some(m.last_day()))
        }
        None => (
            l.from.as_deref().map(|d| date("from", d)).transpose()?,
            l.to.as_deref().map(|d| date("to", d)).transpose()?,
        ),
    };
    Ok(Filter {
        from,
        to,
        kind,
        categories: l
            .categories
            .iter()
            .map(|c| store.find_category(kind, c).map(|c| c.id))
            .collect::<Result<_, _>>()?,
        payment_methods: l
            .payment_methods
            .iter()
            .map(|p| store.find_payment_method(p).map(|m| m.id))
            .collect::<Result<_, _>>()?,
        min_amount: l.min.as_deref().map(|v| amount("min", v)).transpose()?,
        max_amount: l.max.as_deref().map(|v| amount("max", v)).transpose()?,
        tags: l.tags.clone(),
        text: l.search.clone(),
    })
}

fn categories(store: &mut Store, command: CategoryCommand, out: &Out) -> Result<()> {
    let now = Utc::now();
    match command {
        CategoryCommand::List { all } => {
            let list = store.categories(all)?;
            let usage = list.iter().map(|c| store.category_usage(c.id)).collect::<Result<Vec<_>, _>>()?;
            out.categories(&list, &usage)
        }
        CategoryCommand::Add { name, kind, color, icon } => {
            let input = NewCategory { name, kind: Some(kind.parse()?), color, icon };
            let c = store.add_category(&input, Uuid::now_v7(), now)?;
            out.message(&format!("Created {} category {:?}", c.kind, c.name), &c)
        }
        CategoryCommand::Edit { category, kind, name, color, icon, archive, unarchive } => {
            let kind: Option<Kind> = kind.as_deref().map(str::parse).transpose()?;
            let c = store.find_category(kind, &category)?;
            let archived = archive_flag(archive, unarchive);
            let c = store.edit_category(c.id, &CategoryPatch { name, color, icon, archived }, now)?;
            out.message(&format!("Updated {} category {:?}", c.kind, c.name), &c)
        }
        CategoryCommand::Delete { category, kind, move_to } => {
            let kind: Option<Kind> = kind.as_deref().map(str::parse).transpose()?;
            let c = store.find_category(kind, &category)?;
            let target = move_to.as_deref().map(|t| store.find_category(Some(c.kind), t)).transpose()?;
            let moved = store.delete_category(c.id, target.as_ref().map(|t| t.id), now)?;
            let text = match &target {
                Some(t) if moved > 0 => format!("Deleted {:?}; moved {moved} transaction(s) to {:?}", c.name, t.name),
                _ => format!("Deleted {:?}", c.name),
            };
            out.message(
                &text,
                &serde_json::json!({ "deleted": c.id, "moved": moved, "moved_to": target.map(|t| t.id) }),
            )
        }
    }
}

/// `--archive` / `--unarchive` / neither.
fn archive_flag(archive: bool, unarchive: bool) -> Option<bool> {
    match (archive, unarchive) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

fn payment_methods(store: &mut Store, command: PaymentMethodCommand, out: &Out) -> Result<()> {
    let now = Utc::now();
    match command {
        PaymentMethodCommand::List { all } => out.payment_methods(&store.payment_methods(all)?),
        PaymentMethodCommand::Add { name } => {
            let m = store.add_payment_method(&name, Uuid::now_v7(), now)?;
            out.message(&format!("Added payment method {:?}", m.name), &m)
        }
        PaymentMethodCommand::Edit { method, name, archive, unarchive } => {
            let m = store.find_payment_method(&method)?;
            let archived = archive_flag(archive, unarchive);
            let m = store.edit_payment_method(m.id, name.as_deref(), archived, now)?;
            out.message(&format!("Updated payment method {:?}", m.name), &m)
        }
    }
}

fn summary(store: &Store, s: SummaryArgs, out: &Out) -> Result<()> {
    let (from, to) = match (&s.month, &s.from, &s.to) {
        (Some(m), _, _) => {
            let m: Month = m.parse()?;
            (m.first_day(), m.last_day())
        }
        (None, None, None) => {
            let m = Month::of(Local::now().date_naive());
            (m.first_day(), m.last_day())
        }
        (None, from, to) => {
            let from = from.as_deref().map(|d| date("from", d)).transpose()?;
            let to = to.as_deref().map(|d| date("to", d)).transpose()?;
            let to = to.unwrap_or_else(|| Local::now().date_naive());
            (from.unwrap_or(Month::of(to).first_day()), to)
        }
    };
    if from > to {
        bail!("from: the start date is after the end date");
    }
    let report = output::Summary {
        from,
        to,
        totals: store.balance(Some(from), Some(to))?,
        expenses: store.category_breakdown(Some(from), Some(to), Kind::Expense)?,
        income: store.category_breakdown(Some(from), Some(to), Kind::Income)?,
        trend: store.trend(Month::of(to), s.months)?,
    };
    out.summary(&report)
}

/// Writes a file through a temporary sibling and a rename, so a failure never leaves half a
/// backup behind.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
