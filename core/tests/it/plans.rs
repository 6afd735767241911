//! Budgets, alerts and recurring rules: figures to the cent, schedules at month ends and leap
//! years, bad input refused whole, and months of use on several devices going offline and
//! online with exactly one booking per occurrence and one alert per threshold and period.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use expenso_core::plans::local_date;
use expenso_core::{
    BudgetPatch, BudgetPeriod, Frequency, Kind, NewBudget, NewRecurring, OccurrenceStatus, RecurringPatch, Store,
    TransactionPatch,
};
use uuid::Uuid;

use crate::support::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn noon(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
}

fn groceries_budget(amount: &str) -> NewBudget {
    NewBudget { category: Some("groceries".into()), amount: amount.into(), ..NewBudget::default() }
}

fn rent(start: &str) -> NewRecurring {
    NewRecurring {
        amount: "950.00".into(),
        category: "housing".into(),
        description: "Rent".into(),
        frequency: Some(Frequency::Monthly),
        start: start.into(),
        ..NewRecurring::default()
    }
}

#[test]
fn a_budget_reports_spent_remaining_percent_and_projection_to_the_cent() {
    let mut s = memory_store(1);
    let today = d("2027-04-10");
    let b = s.add_budget(&groceries_budget("300"), id(100), today, noon(today)).unwrap();
    assert_eq!((b.name.as_str(), b.period, b.start), ("Groceries", BudgetPeriod::Monthly, d("2027-04-01")));
    assert_eq!(b.thresholds, [80, 100]);
    s.add_transaction(&expense("33.33", "2027-04-02", "groceries"), id(1), at(1)).unwrap();
    s.add_transaction(&expense("66.67", "2027-04-09", "groceries"), id(2), at(2)).unwrap();
    s.add_transaction(&expense("500", "2027-04-05", "transport"), id(3), at(3)).unwrap();
    s.add_transaction(&expense("10", "2027-03-31", "groceries"), id(4), at(4)).unwrap();
    let [st] = &s.budget_statuses(today, today).unwrap()[..] else { panic!("one budget") };
    assert_eq!(
        (st.spent.to_string(), st.remaining.to_string(), st.percent.to_string(), st.projected.to_string()),
        ("100.00".into(), "200.00".into(), "33.3".into(), "300.00".into()),
        "100.00 in 10 of 30 days projects to 300.00"
    );
    assert_eq!((st.period_start, st.period_end), (d("2027-04-01"), d("2027-04-30")));

    let all =
        s.add_budget(&NewBudget { amount: "1000".into(), ..NewBudget::default() }, id(101), today, at(5)).unwrap();
    assert_eq!((all.name.as_str(), all.category_id), ("All expenses", None));
    let overall = s.budget_statuses(today, today).unwrap().into_iter().find(|x| x.budget.id == id(101)).unwrap();
    assert_eq!(overall.spent.to_string(), "600.00");

    let edited = s
        .edit_budget(
            id(100),
            &BudgetPatch { amount: Some("200".into()), thresholds: Some(vec![100, 50, 50]), ..Default::default() },
            at(6),
        )
        .unwrap();
    assert_eq!((edited.amount.to_string(), edited.thresholds), ("200.00".into(), vec![50, 100]));
    s.delete_budget(id(101), at(7)).unwrap();
    assert_eq!(s.budgets().unwrap().len(), 1);
    assert_eq!(s.verify().unwrap(), Ok(()));
}

#[test]
fn rollover_carries_what_was_left_or_overspent_and_history_lists_past_periods() {
    let mut s = memory_store(1);
    let today = d("2027-03-15");
    let input = NewBudget { rollover: Some(true), start: Some("2027-01-20".into()), ..groceries_budget("100") };
    s.add_budget(&input, id(100), today, at(0)).unwrap();
    s.add_transaction(&expense("60", "2027-01-05", "groceries"), id(1), at(1)).unwrap(); // 40 left
    s.add_transaction(&expense("150", "2027-02-10", "groceries"), id(2), at(2)).unwrap(); // 140 → -10
    s.add_transaction(&expense("45.50", "2027-03-01", "groceries"), id(3), at(3)).unwrap();
    let history = s.budget_history(id(100), 12, today).unwrap();
    let rows: Vec<_> = history
        .iter()
        .map(|h| (h.period_start.to_string(), h.carried.to_string(), h.limit.to_string(), h.spent.to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            ("2027-03-01".into(), "-10.00".into(), "90.00".into(), "45.50".into()),
            ("2027-02-01".into(), "40.00".into(), "140.00".into(), "150.00".into()),
            ("2027-01-01".into(), "0.00".into(), "100.00".into(), "60.00".into()),
        ]
    );
    assert_eq!(history[1].projected.to_string(), "150.00", "a past period's projection is what was spent");
    assert_eq!(history[1].remaining.to_string(), "-10.00");
}

#[test]
fn bad_budgets_and_schedules_are_refused_and_nothing_is_saved() {
    let mut s = memory_store(1);
    let today = d("2027-01-10");
    let before = s.document_json().unwrap();
    let refuse = |r: expenso_core::Result<_>| r.map(|_: expenso_core::Budget| ()).unwrap_err().to_string();
    assert_eq!(refuse(s.add_budget(&groceries_budget("0"), id(1), today, at(1))), "amount: must be greater than zero");
    assert_eq!(refuse(s.add_budget(&groceries_budget("-5"), id(1), today, at(1))), "amount: must be greater than zero");
    let bad_threshold = NewBudget { thresholds: Some(vec![0]), ..groceries_budget("10") };
    assert!(refuse(s.add_budget(&bad_threshold, id(1), today, at(1))).starts_with("thresholds: "));
    let income_category = NewBudget { category: Some("salary".into()), ..groceries_budget("10") };
    assert!(refuse(s.add_budget(&income_category, id(1), today, at(1))).starts_with("category: "));

    let refuse = |r: expenso_core::Result<expenso_core::RecurringRule>| r.unwrap_err().to_string();
    let feb30 =
        NewRecurring { frequency: Some(Frequency::Yearly), day: Some(30), month: Some(2), ..rent("2027-01-01") };
    assert_eq!(refuse(s.add_recurring(&feb30, id(2), at(2))), "day: 30 February never occurs");
    let zero = NewRecurring { interval: Some(0), ..rent("2027-01-01") };
    assert!(refuse(s.add_recurring(&zero, id(2), at(2))).starts_with("interval: "));
    let backwards = NewRecurring { end: Some("2026-12-01".into()), ..rent("2027-01-01") };
    assert_eq!(refuse(s.add_recurring(&backwards, id(2), at(2))), "end: is before the start");
    let negative = NewRecurring { amount: "-950".into(), ..rent("2027-01-01") };
    assert_eq!(refuse(s.add_recurring(&negative, id(2), at(2))), "amount: must be greater than zero");
    let unnamed = NewRecurring { description: " ".into(), ..rent("2027-01-01") };
    assert!(refuse(s.add_recurring(&unnamed, id(2), at(2))).starts_with("description: "));
    let no_frequency = NewRecurring { frequency: None, ..rent("2027-01-01") };
    assert!(refuse(s.add_recurring(&no_frequency, id(2), at(2))).starts_with("frequency: "));

    assert_eq!(s.document_json().unwrap(), before, "nothing was written");
    assert!(s.budgets().unwrap().is_empty() && s.recurring_rules().unwrap().is_empty());
}

#[test]
fn an_alert_is_raised_once_per_threshold_and_period_on_every_device() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    let today = d("2027-05-20");
    a.add_budget(&groceries_budget("100"), id(100), today, at(0)).unwrap();
    sync(&mut a, &mut b);
    // Both devices, offline, cross 80% on their own.
    a.add_transaction(&expense("85", "2027-05-03", "groceries"), id(1), at(1)).unwrap();
    b.add_transaction(&expense("81", "2027-05-04", "groceries"), id(2), at(1)).unwrap();
    let ra = a.run_plans(today, at(2)).unwrap();
    let rb = b.run_plans(today, at(3)).unwrap();
    assert_eq!(ra.alerts.iter().map(|x| x.threshold).collect::<Vec<_>>(), [80]);
    assert_eq!(rb.alerts.iter().map(|x| x.threshold).collect::<Vec<_>>(), [80]);
    assert!(a.run_plans(today, at(4)).unwrap().alerts.is_empty(), "not again on the next run");
    sync_both(&mut a, &mut b);
    // Together they spent 166: 100% is crossed now, and raised by whichever runs first.
    let first = b.run_plans(today, at(5)).unwrap();
    assert_eq!(
        first.alerts.iter().map(|x| (x.threshold, x.spent.to_string())).collect::<Vec<_>>(),
        [(100, "166.00".into())]
    );
    sync_both(&mut a, &mut b);
    assert!(a.run_plans(today, at(6)).unwrap().alerts.is_empty(), "a synced alert is not raised again elsewhere");
    for s in [&a, &b] {
        let alerts = s.alerts().unwrap();
        let keys: Vec<_> = alerts.iter().map(|x| (x.period_start, x.threshold)).collect();
        assert_eq!(keys, [(d("2027-05-01"), 100), (d("2027-05-01"), 80)], "one alert per threshold, newest first");
    }
    // Dismissing on one device dismisses everywhere.
    let id80 = a.alerts().unwrap().into_iter().find(|x| x.threshold == 80).unwrap().id;
    a.dismiss_alert(&id80, at(7)).unwrap();
    sync_both(&mut a, &mut b);
    assert!(b.alerts().unwrap().iter().find(|x| x.id == id80).unwrap().dismissed);
    // Next month starts afresh.
    let june = d("2027-06-02");
    a.add_transaction(&expense("90", "2027-06-01", "groceries"), id(3), at(8)).unwrap();
    let june_alerts = a.run_plans(june, at(9)).unwrap().alerts;
    assert_eq!(june_alerts.iter().map(|x| (x.period_start, x.threshold)).collect::<Vec<_>>(), [(d("2027-06-01"), 80)]);
    assert_eq!(a.view_dump().unwrap(), {
        sync_both(&mut a, &mut b);
        b.view_dump().unwrap()
    });
    assert_eq!(a.verify().unwrap(), Ok(()));
    assert_eq!(b.verify().unwrap(), Ok(()));
}

#[test]
fn two_offline_devices_book_each_occurrence_once() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    a.add_recurring(&rent("2027-01-31"), id(200), at(0)).unwrap();
    sync(&mut a, &mut b);
    let today = d("2027-05-15");
    assert_eq!(a.run_plans(today, at(1)).unwrap().booked, 4);
    assert_eq!(b.run_plans(today, at(2)).unwrap().booked, 4);
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        let dates: Vec<_> = s.recurring_transactions(id(200));
        assert_eq!(dates, ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]);
        assert_eq!(s.recurring_rule(id(200)).unwrap().next_due, Some(d("2027-05-31")));
    }
    assert_eq!(a.run_plans(today, at(3)).unwrap().booked, 0);
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    assert_eq!(a.verify().unwrap(), Ok(()));
}

trait Booked {
    fn recurring_transactions(&self, rule: Uuid) -> Vec<String>;
}

impl Booked for Store {
    /// The dates of the transactions a rule booked, in order.
    fn recurring_transactions(&self, rule: Uuid) -> Vec<String> {
        let r = self.recurring_rule(rule).unwrap();
        let page = self
            .list_transactions(
                &expenso_core::Filter::default(),
                expenso_core::Sort { by: expenso_core::SortBy::Date, descending: false },
                expenso_core::PageRequest { offset: 0, limit: 1_000 },
            )
            .unwrap();
        page.items
            .iter()
            .filter(|t| {
                expenso_core::plans::occurrences(&r)
                    .take_while(|d| *d <= t.date)
                    .any(|d| expenso_core::doc::occurrence_id(rule, d) == t.id)
            })
            .map(|t| t.date.to_string())
            .collect()
    }
}

#[test]
fn skipping_confirming_deleting_and_editing_the_series() {
    let mut s = memory_store(1);
    let ask = NewRecurring { auto: Some(false), remind_days: Some(5), ..rent("2027-01-01") };
    s.add_recurring(&ask, id(200), at(0)).unwrap();
    let today = d("2027-02-27");
    let run = s.run_plans(today, at(1)).unwrap();
    assert_eq!(run.booked, 0, "a rule that asks books nothing by itself");
    let reminders: Vec<_> = run.reminders.iter().map(|o| (o.due.to_string(), o.status)).collect();
    assert_eq!(
        reminders,
        [
            ("2027-01-01".into(), OccurrenceStatus::Due),
            ("2027-02-01".into(), OccurrenceStatus::Due),
            ("2027-03-01".into(), OccurrenceStatus::Upcoming)
        ],
        "both waiting ones, and March's reminder five days ahead"
    );
    s.skip_occurrence(id(200), d("2027-01-01"), at(2)).unwrap();
    let booked = s
        .book_occurrence(
            id(200),
            d("2027-02-01"),
            &TransactionPatch { amount: Some("990".into()), ..Default::default() },
            at(3),
        )
        .unwrap();
    assert_eq!((booked.amount.to_string(), booked.date), ("990.00".into(), d("2027-02-01")));
    assert!(s.skip_occurrence(id(200), d("2027-02-01"), at(4)).unwrap_err().to_string().starts_with("due: "));
    assert!(
        s.skip_occurrence(id(200), d("2027-02-02"), at(4)).unwrap_err().to_string().starts_with("due: "),
        "not an occurrence"
    );
    let upcoming: Vec<_> = s.upcoming(today, 40).unwrap().iter().map(|o| o.due.to_string()).collect();
    assert_eq!(upcoming, ["2027-03-01", "2027-04-01"]);

    // Booking by itself from now on; the booked occurrence the user deletes stays deleted.
    s.edit_recurring(id(200), &RecurringPatch { auto: Some(true), ..Default::default() }, today, at(5)).unwrap();
    assert_eq!(s.run_plans(d("2027-04-02"), at(6)).unwrap().booked, 2);
    let april = expenso_core::doc::occurrence_id(id(200), d("2027-04-01"));
    s.delete_transaction(april, at(7)).unwrap();
    assert_eq!(s.run_plans(d("2027-04-03"), at(8)).unwrap().booked, 0, "a deleted booking is not booked again");

    // A new schedule (the 15th) takes over from the next open occurrence (May): none of its
    // past dates book, and April, booked (then deleted) on the 1st, is not booked again.
    let rule = s
        .edit_recurring(
            id(200),
            &RecurringPatch { day: Some(15), amount: Some("1000".into()), ..Default::default() },
            d("2027-04-03"),
            at(9),
        )
        .unwrap();
    assert_eq!((rule.start, rule.next_due), (d("2027-05-01"), Some(d("2027-05-15"))));
    assert_eq!(s.run_plans(d("2027-04-20"), at(10)).unwrap().booked, 0);
    assert_eq!(s.run_plans(d("2027-05-20"), at(10)).unwrap().booked, 1);
    let latest = s.transaction(expenso_core::doc::occurrence_id(id(200), d("2027-05-15"))).unwrap().unwrap();
    assert_eq!(latest.amount.to_string(), "1000.00");
    s.delete_recurring(id(200), at(11)).unwrap();
    assert!(s.transaction(latest.id).unwrap().is_some(), "booked transactions stay");
    assert_eq!(s.verify().unwrap(), Ok(()));
}

#[test]
fn catching_up_after_months_closed_across_a_leap_day() {
    let mut s = memory_store(1);
    let yearly =
        NewRecurring { frequency: Some(Frequency::Yearly), description: "Insurance".into(), ..rent("2027-02-28") };
    s.add_recurring(&NewRecurring { day: Some(29), month: Some(2), ..yearly }, id(200), at(0)).unwrap();
    let weekly = NewRecurring {
        frequency: Some(Frequency::Weekly),
        interval: Some(2),
        description: "Cleaner".into(),
        amount: "40".into(),
        category: "other".into(),
        count: Some(5),
        ..rent("2028-02-21")
    };
    s.add_recurring(&weekly, id(201), at(0)).unwrap();
    assert_eq!(s.run_plans(d("2029-03-01"), at(1)).unwrap().booked, 3 + 5);
    assert_eq!(s.recurring_transactions(id(200)), ["2027-02-28", "2028-02-29", "2029-02-28"]);
    assert_eq!(
        s.recurring_transactions(id(201)),
        ["2028-02-21", "2028-03-06", "2028-03-20", "2028-04-03", "2028-04-17"]
    );
    assert_eq!(s.recurring_rule(id(201)).unwrap().next_due, None, "the count is reached");
}

/// Months of use: three devices in three time zones open the app on some days, book
/// expenses, run the plans on their own local date, and sync only now and then. At the end
/// every device holds the same ledger, with each occurrence booked exactly once and each
/// crossed threshold raised exactly once per period.
#[test]
fn months_of_use_on_three_devices_offline_and_online() {
    let zones = [
        FixedOffset::east_opt(0).unwrap(),
        FixedOffset::east_opt(9 * 3600).unwrap(),
        FixedOffset::west_opt(10 * 3600).unwrap(),
    ];
    let mut devices: Vec<Store> = (1..=3).map(memory_store).collect();
    let first_day = d("2027-11-01");
    devices[0]
        .add_budget(
            &NewBudget { thresholds: Some(vec![50, 80, 100]), ..groceries_budget("400") },
            id(100),
            first_day,
            noon(first_day),
        )
        .unwrap();
    devices[0].add_recurring(&NewRecurring { day: Some(31), ..rent("2027-11-01") }, id(200), noon(first_day)).unwrap();
    let salary = NewRecurring {
        kind: Some(Kind::Income),
        amount: "3200".into(),
        category: "salary".into(),
        description: "Salary".into(),
        frequency: Some(Frequency::Monthly),
        day: Some(25),
        start: "2027-11-01".into(),
        ..NewRecurring::default()
    };
    devices[0].add_recurring(&salary, id(201), noon(first_day)).unwrap();
    let (head, rest) = devices.split_at_mut(1);
    for other in rest.iter_mut() {
        sync(&mut head[0], other);
    }

    // A fixed pseudo-random pattern (an LCG), so the run is the same every time.
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut spent: BTreeMap<NaiveDate, i64> = BTreeMap::new(); // cents per month
    let mut tx_no = 1_000u128;
    let last_day = d("2028-04-10");
    let mut day = first_day;
    while day <= last_day {
        for (i, zone) in zones.iter().enumerate() {
            if next(3) == 0 {
                continue; // this device stays closed today
            }
            // Midday UTC is another date in some zones: each device runs on its own today.
            let now = noon(day) + Duration::hours(next(12) as i64 - 6);
            let today = local_date(now, zone);
            if next(2) == 0 {
                let cents = 500 + next(4_000) as i64;
                tx_no += 1;
                let amount = format!("{}.{:02}", cents / 100, cents % 100);
                devices[i]
                    .add_transaction(&expense(&amount, &today.to_string(), "groceries"), Uuid::from_u128(tx_no), now)
                    .unwrap();
                *spent.entry(BudgetPeriod::Monthly.start_of(today)).or_default() += cents;
            }
            devices[i].run_plans(today, now).unwrap();
        }
        // Now and then two devices meet (through the server).
        if next(4) == 0 {
            let (x, y) = (next(3) as usize, next(3) as usize);
            if x != y {
                let (lo, hi) = (x.min(y), x.max(y));
                let (left, right) = devices.split_at_mut(hi);
                sync_both(&mut left[lo], &mut right[0]);
            }
        }
        day += Duration::days(1);
    }
    // Everyone online at last; each runs once more on the last day, then they sync again.
    for _ in 0..2 {
        for i in 0..3 {
            for j in 0..3 {
                if i < j {
                    let (left, right) = devices.split_at_mut(j);
                    sync_both(&mut left[i], &mut right[0]);
                }
            }
        }
        for s in devices.iter_mut() {
            s.run_plans(last_day, noon(last_day)).unwrap();
        }
    }

    let rent_dates = devices[0].recurring_transactions(id(200));
    assert_eq!(rent_dates, ["2027-11-30", "2027-12-31", "2028-01-31", "2028-02-29", "2028-03-31"]);
    let salary_dates = devices[0].recurring_transactions(id(201));
    assert_eq!(salary_dates, ["2027-11-25", "2027-12-25", "2028-01-25", "2028-02-25", "2028-03-25"]);

    // The alerts are exactly the thresholds each month's spending crossed, computed here.
    let expected: BTreeSet<(NaiveDate, u32)> = spent
        .iter()
        .flat_map(|(&month, &cents)| {
            [50u32, 80, 100].into_iter().filter(move |t| cents * 100 >= 40_000 * i64::from(*t)).map(move |t| (month, t))
        })
        .collect();
    for s in &devices {
        let got: Vec<(NaiveDate, u32)> = s.alerts().unwrap().iter().map(|a| (a.period_start, a.threshold)).collect();
        let unique: BTreeSet<_> = got.iter().copied().collect();
        assert_eq!(got.len(), unique.len(), "no alert twice");
        // A month's spending can cross a threshold only after its month is over on a device
        // that has not seen all of it yet; alerts are raised for the current period only, so
        // every raised alert is a crossed one, and the months spent past a threshold by the
        // time they were current are all there.
        assert!(unique.is_subset(&expected), "{unique:?} ⊄ {expected:?}");
        assert!(!unique.is_empty());
        let april: BTreeSet<_> = unique.iter().filter(|(m, _)| *m == d("2028-04-01")).copied().collect();
        let expected_april: BTreeSet<_> = expected.iter().filter(|(m, _)| *m == d("2028-04-01")).copied().collect();
        assert_eq!(april, expected_april, "the current month's alerts are exactly its crossed thresholds");
        let total: i64 = spent.values().sum();
        let booked: expenso_core::Decimal = s
            .list_transactions(
                &expenso_core::Filter {
                    categories: vec![expenso_core::doc::default_category_id(Kind::Expense, "groceries")],
                    ..Default::default()
                },
                expenso_core::Sort::default(),
                expenso_core::PageRequest { offset: 0, limit: 1_000 },
            )
            .unwrap()
            .items
            .iter()
            .map(|t| t.amount)
            .sum();
        assert_eq!(booked, expenso_core::Decimal::new(total, 2));
        let status = s.budget_statuses(d("2028-04-10"), d("2028-04-10")).unwrap();
        assert_eq!(status[0].spent, expenso_core::Decimal::new(spent[&d("2028-04-01")], 2));
    }
    for s in &devices[1..] {
        assert_eq!(s.view_dump().unwrap(), devices[0].view_dump().unwrap());
    }
    for s in &devices {
        assert_eq!(s.verify().unwrap(), Ok(()));
    }
}

/// "Today" follows the device's zone through daylight-saving changes: around Berlin's spring
/// and autumn changes and New York's, a device running just after local midnight books the
/// new day's occurrence, and one running just before does not.
#[test]
fn daylight_saving_changes_move_nothing_but_the_clock() {
    use chrono_tz::{America::New_York, Europe::Berlin};
    let cases = [
        // (zone, an instant just after local midnight, the local date it is)
        (Berlin, "2027-03-27T23:30:00Z", "2027-03-28"), // 00:30 CET, the night clocks go forward
        (Berlin, "2027-10-30T22:30:00Z", "2027-10-31"), // 00:30 CEST, the night clocks go back
        (Berlin, "2027-03-28T22:30:00Z", "2027-03-29"), // 00:30 CEST, the day after
        (New_York, "2027-03-14T05:30:00Z", "2027-03-14"), // 00:30 EST, clocks go forward at 2:00
        (New_York, "2027-11-07T04:30:00Z", "2027-11-07"), // 00:30 EDT, clocks go back at 2:00
    ];
    for (i, (zone, instant, local)) in cases.into_iter().enumerate() {
        let now = DateTime::parse_from_rfc3339(instant).unwrap().to_utc();
        let today = local_date(now, &zone);
        assert_eq!(today, d(local), "{zone} at {instant}");
        let before = local_date(now - Duration::hours(1), &zone);
        assert_eq!(before, today.pred_opt().unwrap(), "an hour earlier it was still the day before");

        let mut s = memory_store(1);
        let daily = NewRecurring {
            frequency: Some(Frequency::Daily),
            description: "Coffee".into(),
            amount: "3".into(),
            category: "food & dining".into(),
            start: today.to_string(),
            ..NewRecurring::default()
        };
        s.add_recurring(&daily, id(300 + i as u128), now).unwrap();
        assert_eq!(s.run_plans(before, now - Duration::hours(1)).unwrap().booked, 0, "nothing before the start");
        assert_eq!(s.run_plans(today, now).unwrap().booked, 1);
        // Twenty-five hours later (an autumn night is 25 hours long) it is the next day.
        let later = now + Duration::hours(25);
        assert_eq!(s.run_plans(local_date(later, &zone), later).unwrap().booked, 1);
        assert_eq!(s.run_plans(local_date(later, &zone), later).unwrap().booked, 0);
    }
}

#[test]
fn a_budget_follows_its_category_when_it_is_merged_into_another() {
    let mut s = memory_store(1);
    let today = d("2027-04-10");
    let snacks = expenso_core::NewCategory { name: "Snacks".into(), kind: Some(Kind::Expense), ..Default::default() };
    s.add_category(&snacks, id(50), at(0)).unwrap();
    let budget = NewBudget { category: Some("Snacks".into()), amount: "50".into(), ..NewBudget::default() };
    s.add_budget(&budget, id(100), today, at(1)).unwrap();
    s.add_transaction(&expense("20", "2027-04-02", "Snacks"), id(1), at(2)).unwrap();
    let groceries = expenso_core::doc::default_category_id(Kind::Expense, "groceries");
    s.delete_category(id(50), Some(groceries), at(3)).unwrap();
    s.add_transaction(&expense("25", "2027-04-03", "groceries"), id(2), at(4)).unwrap();
    let status = s.budget_statuses(today, today).unwrap();
    assert_eq!(status[0].spent.to_string(), "45.00", "its transactions went to Groceries, and so does the budget");
    assert_eq!(s.run_plans(today, at(5)).unwrap().alerts.iter().map(|a| a.threshold).collect::<Vec<_>>(), [80]);
}

#[test]
fn a_weekly_schedule_changed_midweek_keeps_its_day_and_its_length() {
    let mut s = memory_store(1);
    let weekly = NewRecurring {
        frequency: Some(Frequency::Weekly),
        description: "Cleaner".into(),
        amount: "40".into(),
        category: "other".into(),
        count: Some(6),
        ..rent("2027-03-01")
    };
    s.add_recurring(&weekly, id(200), at(0)).unwrap();
    assert_eq!(s.run_plans(d("2027-03-10"), at(1)).unwrap().booked, 2); // Mondays 1 and 8 March
    let rule = s
        .edit_recurring(id(200), &RecurringPatch { interval: Some(2), ..Default::default() }, d("2027-03-10"), at(2))
        .unwrap();
    assert_eq!((rule.start, rule.count, rule.next_due), (d("2027-03-15"), Some(4), Some(d("2027-03-15"))));
    assert_eq!(s.run_plans(d("2027-03-10"), at(3)).unwrap().booked, 0, "nothing booked twice on the day of the change");
    assert_eq!(s.run_plans(d("2027-06-01"), at(4)).unwrap().booked, 4);
    assert_eq!(s.recurring_rule(id(200)).unwrap().next_due, None, "six in all");
}
