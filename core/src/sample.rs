//! Deterministic sample ledgers: the reference workload of the benchmarks (20 categories,
//! 3 currencies, 3 years, ~20-character descriptions) and demo data for new users.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{Kind, NewCategory, NewTransaction};
use crate::store::Store;

/// A small, fast, seedable generator (SplitMix64); good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())).to_le_bytes(),
        )
        .into_uuid()
    }
}

const EXTRA_CATEGORIES: [(&str, Kind); 4] = [
    ("Pets", Kind::Expense),
    ("Gym", Kind::Expense),
    ("Subscriptions", Kind::Expense),
    ("Rental income", Kind::Income),
];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];
const PAYMENT_METHODS: [&str; 4] = ["cash", "card", "bank_transfer", "other"];
const WORDS: [&str; 24] = [
    "coffee", "lunch", "market", "ticket", "rent", "power", "water", "pharmacy", "cinema", "books", "shoes", "hotel",
    "course", "bakery", "taxi", "fuel", "phone", "internet", "gift", "dinner", "snacks", "parking", "repair", "vet",
];

/// Generates `count` transactions over three years ending at `end`, from `seed`.
pub struct Workload {
    rng: Rng,
    end: NaiveDate,
    expense_categories: Vec<String>,
    income_categories: Vec<String>,
}

impl Workload {
    /// Adds the extra categories the workload uses (20 in all) and returns a generator.
    pub fn prepare(store: &mut Store, seed: u64, end: NaiveDate, now: DateTime<Utc>) -> Result<Workload> {
        let mut rng = Rng::new(seed);
        for (name, kind) in EXTRA_CATEGORIES {
            if store.find_category(Some(kind), name).is_err() {
                let input = NewCategory { name: name.into(), kind: Some(kind), color: None, icon: None };
                store.add_category(&input, rng.uuid(), now)?;
            }
        }
        let live = store.categories(false)?;
        let names = |kind: Kind| live.iter().filter(|c| c.kind == kind).map(|c| c.id.to_string()).collect::<Vec<_>>();
        Ok(Workload { rng, end, expense_categories: names(Kind::Expense), income_categories: names(Kind::Income) })
    }

    /// The next transaction: nine in ten are expenses.
    pub fn next_transaction(&mut self) -> (Uuid, NewTransaction) {
        let r = &mut self.rng;
        let id = r.uuid();
        let kind = if r.below(10) == 0 { Kind::Income } else { Kind::Expense };
        let cats = if kind == Kind::Income { &self.income_categories } else { &self.expense_categories };
        let category = cats[r.below(cats.len() as u64) as usize].clone();
        let date = self.end - Duration::days(r.below(3 * 365) as i64);
        let cents = if kind == Kind::Income { 50_000 + r.below(400_000) } else { 100 + r.below(20_000) };
        let description = format!(
            "{} {} #{:04}",
            WORDS[r.below(WORDS.len() as u64) as usize],
            WORDS[r.below(WORDS.len() as u64) as usize],
            r.below(10_000)
        );
        let tags = if r.below(5) == 0 { vec![WORDS[r.below(6) as usize].to_string()] } else { Vec::new() };
        let input = NewTransaction {
            kind: Some(kind),
            amount: format!("{}.{:02}", cents / 100, cents % 100),
            currency: Some(CURRENCIES[r.below(CURRENCIES.len() as u64) as usize].into()),
            date: date.format("%Y-%m-%d").to_string(),
            category,
            payment_method: Some(PAYMENT_METHODS[r.below(PAYMENT_METHODS.len() as u64) as usize].into()),
            description,
            notes: String::new(),
            tags,
        };
        (id, input)
    }

    /// Books `count` transactions in changes of `batch` transactions each.
    pub fn fill(&mut self, store: &mut Store, count: usize, batch: usize, now: DateTime<Utc>) -> Result<()> {
        self.fill_reporting(store, count, batch, now, |_| Ok(()))
    }

    /// [`Workload::fill`], telling `stored` the ids of each batch once it is stored.
    pub fn fill_reporting(
        &mut self,
        store: &mut Store,
        count: usize,
        batch: usize,
        now: DateTime<Utc>,
        mut stored: impl FnMut(&[Uuid]) -> std::io::Result<()>,
    ) -> Result<()> {
        let mut left = count;
        while left > 0 {
            let n = left.min(batch.max(1));
            let items: Vec<_> = (0..n).map(|_| self.next_transaction()).collect();
            store.add_transactions(&items, now)?;
            stored(&items.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
            left -= n;
        }
        Ok(())
    }
}
