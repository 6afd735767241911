//! Deterministic in-memory network of devices and a relay with the server's semantics: the
//! real device-side protocol ([`Session`]) on real ledger files, under every interleaving a
//! seeded scheduler produces — messages reordered, duplicated and lost with their
//! connection, devices editing offline, killed and reopened, the server restarted, fresh
//! devices starting from a snapshot. Afterwards every device, and the server's copy, hold the
//! same ledger, nothing waits in an outbox, and each view equals its document.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use expenso_core::sample::Rng;
use expenso_core::store::Binding;
use expenso_core::sync::{Action, ClientMessage, LoggedChange, PullResponse, ServerMessage, Session, WireChange};
use expenso_core::{ChangeHash, Store};

use crate::convergence::{run, Op};
use crate::support::*;

/// The relay: a log numbered from 1, a change stored once however often it is pushed. With
/// `gaps`, the counter sometimes skips a number (as a store whose aborted transactions do not
/// give their numbers back would): devices must not wait for changes that never come.
#[derive(Default)]
struct Relay {
    log: Vec<(i64, Vec<u8>)>,
    counter: i64,
    seen: HashMap<ChangeHash, i64>,
    gaps: Option<Rng>,
}

impl Relay {
    fn latest(&self) -> i64 {
        self.counter
    }

    /// The answer, and whether other devices are to be told.
    fn handle(&mut self, message: ClientMessage) -> (ServerMessage, Option<i64>) {
        match message {
            ClientMessage::Hello { protocol } => {
                let log_bytes = self.log.iter().map(|(_, bytes)| bytes.len() as i64).sum();
                (ServerMessage::Welcome { protocol, latest: self.latest(), log_bytes: Some(log_bytes) }, None)
            }
            ClientMessage::Push { id, changes } => {
                let mut stored = Vec::new();
                let mut fresh_from = None;
                for WireChange(bytes) in changes {
                    let change = automerge::Change::from_bytes(bytes.clone()).expect("devices send valid changes");
                    if !self.seen.contains_key(&change.hash()) {
                        if self.gaps.as_mut().is_some_and(|rng| rng.below(5) == 0) {
                            self.counter += 1;
                        }
                        self.counter += 1;
                        self.log.push((self.counter, bytes));
                        self.seen.insert(change.hash(), self.counter);
                        fresh_from.get_or_insert(self.counter);
                    }
                    stored.push(change.hash().to_string());
                }
                let latest = self.latest();
                (ServerMessage::Stored { id, stored, latest, fresh_from }, fresh_from)
            }
            ClientMessage::Pull { after, limit } => {
                let limit = limit.unwrap_or(1000).clamp(1, 1000) as usize;
                let rest: Vec<&(i64, Vec<u8>)> = self.log.iter().filter(|(seq, _)| *seq > after).collect();
                let changes: Vec<LoggedChange> = rest
                    .iter()
                    .take(limit)
                    .map(|(seq, bytes)| LoggedChange { seq: *seq, change: WireChange(bytes.clone()) })
                    .collect();
                let cursor = changes.last().map_or(after, |c| c.seq);
                let page = PullResponse { changes, cursor, more: rest.len() > limit, latest: self.latest() };
                (ServerMessage::Changes(page), None)
            }
        }
    }

    /// What the server's ledger replica holds.
    fn replica(&self) -> Store {
        let mut store = Store::replica_in_memory(actor(200), None).unwrap();
        store.apply_changes(&self.log.iter().map(|(_, bytes)| bytes.clone()).collect::<Vec<_>>()).unwrap();
        store
    }

    /// The log's newest stored seq (the counter may be past it).
    fn last_seq(&self) -> i64 {
        self.log.last().map_or(0, |(seq, _)| *seq)
    }
}

struct Link {
    session: Session,
    up: VecDeque<ClientMessage>,
    down: VecDeque<ServerMessage>,
}

struct Net {
    rng: Rng,
    relay: Relay,
    paths: Vec<PathBuf>,
    stores: Vec<Store>,
    links: Vec<Option<Link>>,
    binding: Binding,
    faults: bool,
    /// One delivery in this many takes a random message of the queue instead of the first.
    overtake: u64,
}

impl Net {
    fn connect(&mut self, d: usize) {
        if self.links[d].is_some() {
            return;
        }
        if self.stores[d].binding().unwrap().as_ref() != Some(&self.binding) {
            self.stores[d].bind(&self.binding).unwrap();
        }
        let session = Session::new();
        let hello = session.hello();
        self.links[d] = Some(Link { session, up: VecDeque::from([hello]), down: VecDeque::new() });
    }

    fn pick<T>(&mut self, queue: &mut VecDeque<T>) -> Option<T>
    where
        T: Clone,
    {
        if queue.is_empty() {
            return None;
        }
        if !self.faults {
            return queue.pop_front();
        }
        // Mostly in order; sometimes a later message overtakes, sometimes one comes twice.
        let i = if self.rng.below(self.overtake) == 0 { self.rng.below(queue.len() as u64) as usize } else { 0 };
        let message = queue.remove(i)?;
        if self.rng.below(12) == 0 {
            queue.push_back(message.clone());
        }
        Some(message)
    }

    fn deliver_up(&mut self, d: usize) {
        let Some(mut link) = self.links[d].take() else { return };
        let message = self.pick(&mut link.up);
        self.links[d] = Some(link);
        let Some(message) = message else { return };
        let (reply, fresh_from) = self.relay.handle(message);
        if let Some(link) = self.links[d].as_mut() {
            link.down.push_back(reply);
        }
        if let Some(first) = fresh_from {
            // Other devices are told, with the new changes themselves or (as through another
            // instance of the server) only how far the log reaches.
            let latest = self.relay.latest();
            let changes: Vec<LoggedChange> = self
                .relay
                .log
                .iter()
                .filter(|(seq, _)| *seq >= first)
                .map(|(seq, bytes)| LoggedChange { seq: *seq, change: WireChange(bytes.clone()) })
                .collect();
            for other in 0..self.links.len() {
                let with_changes = self.rng.below(2) == 0;
                if let Some(link) = self.links[other].as_mut().filter(|_| other != d) {
                    link.down.push_back(if with_changes {
                        ServerMessage::Pushed { changes: changes.clone(), latest }
                    } else {
                        ServerMessage::Notify { latest }
                    });
                }
            }
        }
    }

    fn deliver_down(&mut self, d: usize) {
        let Some(mut link) = self.links[d].take() else { return };
        let Some(message) = self.pick(&mut link.down) else {
            self.links[d] = Some(link);
            return;
        };
        let result = link.session.on_message(&mut self.stores[d], message);
        self.follow(d, link, result);
    }

    fn local_change(&mut self, d: usize) {
        let Some(mut link) = self.links[d].take() else { return };
        let result = link.session.on_local_change(&mut self.stores[d]);
        self.follow(d, link, result);
    }

    /// Carries out a session's actions; an error ends the connection, as the client does.
    fn follow(&mut self, d: usize, mut link: Link, result: Result<Vec<Action>, expenso_core::sync::SyncError>) {
        let mut queue = match result {
            Ok(actions) => VecDeque::from(actions),
            Err(_) => return,
        };
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(message) => link.up.push_back(message),
                Action::FetchSnapshot => {
                    let next = if self.faults && self.rng.below(4) == 0 {
                        link.session.on_snapshot_unavailable(&mut self.stores[d])
                    } else {
                        let mut replica = self.relay.replica();
                        let bytes = replica.save_document().unwrap();
                        link.session.on_snapshot(&mut self.stores[d], &bytes, self.relay.latest())
                    };
                    match next {
                        Ok(more) => queue.extend(more),
                        Err(_) => return,
                    }
                }
            }
        }
        self.links[d] = Some(link);
    }

    fn quiet(&self) -> bool {
        self.links.iter().all(|l| l.as_ref().is_some_and(|l| l.up.is_empty() && l.down.is_empty()))
    }
}

fn random_op(rng: &mut Rng, devices: usize) -> Op {
    let replica = rng.below(devices as u64) as usize;
    let slot = rng.below(8) as u8;
    let cents = 1 + rng.below(99_999) as u32;
    let day = 1 + rng.below(27) as u8;
    match rng.below(12) {
        0..=3 => Op::Add { replica, slot, cents, day },
        4 | 5 => Op::EditAmount { replica, slot, cents },
        6 => Op::EditDescription { replica, slot, word: rng.below(4) as u8 },
        7 => Op::EditDate { replica, slot, day },
        8 => Op::Delete { replica, slot },
        9 => Op::AddCategory { replica, slot: slot % 3 },
        10 => Op::RenameCategory { replica, slot: slot % 3, word: rng.below(4) as u8 },
        _ => Op::DeleteCategory { replica, slot: slot % 3, into_builtin: rng.below(2) == 0 },
    }
}

fn scenario(seed: u64, devices: usize, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..devices).map(|d| dir.path().join(format!("device{d}.expenso"))).collect();
    let stores =
        paths.iter().enumerate().map(|(d, p)| Store::create(p, actor(d as u8 + 1), eur(), t0()).unwrap()).collect();
    let mut net = Net {
        rng: Rng::new(seed),
        relay: Relay { gaps: (seed % 3 == 0).then(|| Rng::new(seed + 1)), ..Relay::default() },
        paths,
        stores,
        links: (0..devices).map(|_| None).collect(),
        binding: Binding { server: "https://sync.example".into(), account: uuid::Uuid::from_u128(7) },
        faults: true,
        overtake: 2 + seed % 6,
    };
    for step in 0..steps {
        let d = net.rng.below(devices as u64) as usize;
        match net.rng.below(100) {
            0..=21 => {
                let op = random_op(&mut net.rng, devices);
                let replica = match op {
                    Op::Add { replica, .. }
                    | Op::EditAmount { replica, .. }
                    | Op::EditDescription { replica, .. }
                    | Op::EditDate { replica, .. }
                    | Op::EditKind { replica, .. }
                    | Op::Delete { replica, .. }
                    | Op::AddCategory { replica, .. }
                    | Op::RenameCategory { replica, .. }
                    | Op::DeleteCategory { replica, .. }
                    | Op::SetRate { replica, .. }
                    | Op::DeleteRate { replica, .. }
                    | Op::EcbDay { replica, .. }
                    | Op::SetBase { replica, .. } => replica,
                    Op::Sync { to, .. } => to,
                };
                run(&mut net.stores, &op, step as i64);
                net.local_change(replica);
            }
            22..=56 => net.deliver_up(d),
            57..=91 => net.deliver_down(d),
            92..=94 => net.connect(d),
            95 | 96 => net.links[d] = None, // the network is gone
            97 | 98 => {
                // The device is killed mid-sync and started again.
                net.links[d] = None;
                let path = net.paths[d].clone();
                net.stores[d] = Store::open(&path).unwrap();
            }
            _ => {
                // The server restarts: every connection drops, the log stays.
                for link in &mut net.links {
                    *link = None;
                }
            }
        }
    }
    // The network heals: everyone connects, messages flow in order until all agree.
    net.faults = false;
    for d in 0..devices {
        net.connect(d);
    }
    for round in 0.. {
        assert!(round < 100_000, "seed {seed}: no agreement");
        for d in 0..devices {
            if net.links[d].is_none() {
                net.connect(d);
            }
            net.deliver_up(d);
            net.deliver_down(d);
        }
        let synced =
            (0..devices).all(|d| net.links[d].as_ref().is_some_and(|l| l.session.is_synced(&net.stores[d]).unwrap()));
        if net.quiet() && synced {
            break;
        }
    }
    let mut replica = net.relay.replica();
    let expected = replica.document_json().unwrap();
    let view = replica.view_dump().unwrap();
    for (d, store) in net.stores.iter_mut().enumerate() {
        assert_eq!(store.outbox_len().unwrap(), 0, "seed {seed}: device {d} has changes the server lacks");
        assert!(store.sync_cursor().unwrap() >= net.relay.last_seq(), "seed {seed}: device {d}'s cursor");
        assert_eq!(store.verify().unwrap(), Ok(()), "seed {seed}: device {d}'s view");
        assert_eq!(store.document_json().unwrap(), expected, "seed {seed}: device {d}'s ledger");
        assert_eq!(store.view_dump().unwrap(), view, "seed {seed}: device {d}'s view differs from the server's");
    }
}

#[test]
fn devices_converge_through_the_relay_under_faults() {
    for seed in 0..60 {
        scenario(seed, 2 + (seed % 2) as usize, 500);
    }
}

#[test]
fn a_device_that_joins_late_starts_from_the_snapshot() {
    // Enough history that a fresh device takes the snapshot rather than the log.
    let dir = tempfile::tempdir().unwrap();
    let binding = Binding { server: "https://sync.example".into(), account: uuid::Uuid::from_u128(9) };
    let mut relay = Relay::default();
    let mut a = Store::create(&dir.path().join("a.expenso"), actor(1), eur(), t0()).unwrap();
    a.bind(&binding).unwrap();
    for i in 0..300u32 {
        a.add_transaction(
            &expense(&format!("{}.50", i + 1), "2026-02-03", "groceries"),
            id(u128::from(i)),
            at(i.into()),
        )
        .unwrap();
    }
    let outgoing = a.outbox(10_000, usize::MAX).unwrap();
    let (reply, _) = relay
        .handle(ClientMessage::Push { id: 1, changes: outgoing.into_iter().map(|o| WireChange(o.data)).collect() });
    let ServerMessage::Stored { stored, .. } = reply else { panic!("{reply:?}") };
    a.acknowledge(&stored).unwrap();
    assert_eq!(a.outbox_len().unwrap(), 0);

    let mut b = Store::create(&dir.path().join("b.expenso"), actor(2), eur(), t0()).unwrap();
    b.add_transaction(&expense("1.00", "2026-02-04", "transport"), id(999), at(1)).unwrap();
    b.bind(&binding).unwrap();
    let mut session = Session::new();
    let (welcome, _) = relay.handle(session.hello());
    let actions = session.on_message(&mut b, welcome).unwrap();
    assert_eq!(actions.first(), Some(&Action::FetchSnapshot), "{actions:?}");
    let bytes = relay.replica().save_document().unwrap();
    let mut queue: VecDeque<Action> = session.on_snapshot(&mut b, &bytes, relay.latest()).unwrap().into();
    assert_eq!(b.sync_cursor().unwrap(), relay.latest());
    assert!(session.received >= 300, "{}", session.received);
    while let Some(action) = queue.pop_front() {
        let Action::Send(message) = action else { panic!("{action:?}") };
        let (reply, _) = relay.handle(message);
        queue.extend(session.on_message(&mut b, reply).unwrap());
    }
    assert!(session.is_synced(&b).unwrap());
    // B kept its own transaction and sent it up; a reopened B still has everything.
    drop(b);
    let mut b = Store::open(&dir.path().join("b.expenso")).unwrap();
    assert_eq!(b.verify().unwrap(), Ok(()));
    assert_eq!(b.document_json().unwrap(), relay.replica().document_json().unwrap());
    assert!(b.transaction(id(999)).unwrap().is_some());
    assert!(b.transaction(id(299)).unwrap().is_some());
}

#[test]
fn a_fresh_device_takes_the_snapshot_of_a_log_of_few_but_large_changes() {
    // A big import is a few large changes: the log's bytes, not its length, say the snapshot
    // is the faster start. A log of the same length in few bytes is pulled, and so is one
    // whose server does not count bytes.
    let dir = tempfile::tempdir().unwrap();
    let binding = Binding { server: "https://sync.example".into(), account: uuid::Uuid::from_u128(9) };
    let mut b = Store::create(&dir.path().join("b.expenso"), actor(2), eur(), t0()).unwrap();
    b.bind(&binding).unwrap();
    let first_step = |b: &mut Store, log_bytes: Option<i64>| {
        let mut session = Session::new();
        let ClientMessage::Hello { protocol } = session.hello() else { panic!("hello") };
        let welcome = ServerMessage::Welcome { protocol, latest: 106, log_bytes };
        session.on_message(b, welcome).unwrap().into_iter().next()
    };
    let large = expenso_core::sync::SNAPSHOT_MIN_BYTES + 1;
    assert_eq!(first_step(&mut b, Some(large)), Some(Action::FetchSnapshot));
    for log_bytes in [Some(100_000), None] {
        let step = first_step(&mut b, log_bytes);
        assert!(matches!(step, Some(Action::Send(ClientMessage::Pull { after: 0, .. }))), "{log_bytes:?}: {step:?}");
    }
}
