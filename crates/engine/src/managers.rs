//! Managers before their reports. A user's manager goes to the app as a
//! reference to the manager's account, so a report created before its
//! manager's account exists needs a second request once it does. Each batch is
//! therefore split into waves: the managers, up the chain, that have no account
//! in the app yet, from the batch itself or pulled in from elsewhere in the
//! directory, go first, top of the chain first, so that every account is made
//! with its manager in one request. A manager that never gets an account (out of
//! scope) leaves its reports waiting (`pending_ref`), as before; a cycle in the
//! management chain is cut where it closes.

use crate::cycle::CycleContext;
use crate::EngineError;
use crate::{FastMap, FastSet};
use roster_store::{ObjectKind, Store, User, UserId};
use std::collections::BTreeMap;

/// How far up a management chain managers are pulled in, and the most waves.
const MAX_CHAIN: usize = 16;

/// One user to process: its id and the user (`None`: gone from the directory).
pub(crate) type Item = (UserId, Option<User>);

/// The batch in waves, managers without an account first. A batch with none is
/// one wave, as it came.
/// Users in `scheduled` are on their way to the app in this run already: they
/// count as having an account (their reports wait for it when they are sent).
pub(crate) async fn waves(
    store: &Store,
    ctx: &CycleContext,
    items: Vec<Item>,
    scheduled: &FastSet<String>,
) -> Result<Vec<Vec<Item>>, EngineError> {
    let mut users: FastMap<UserId, Option<User>> = FastMap::with_capacity_and_hasher(items.len(), Default::default());
    let mut order: Vec<UserId> = Vec::with_capacity(items.len());
    for (id, user) in items {
        if let std::collections::hash_map::Entry::Vacant(slot) = users.entry(id.clone()) {
            order.push(id);
            slot.insert(user);
        }
    }
    let pending = pull_managers(store, ctx, &mut users, &mut order, scheduled).await?;
    if pending.is_empty() {
        return Ok(vec![order.into_iter().map(|id| (id.clone(), users.remove(&id).flatten())).collect()]);
    }
    // Every level first: a chain is followed through the users of the batch.
    let levels: Vec<usize> = order.iter().map(|id| level_of(id, &users, &pending)).collect();
    let mut by_level: BTreeMap<usize, Vec<Item>> = BTreeMap::new();
    for (id, level) in order.into_iter().zip(levels) {
        let user = users.remove(&id).flatten();
        by_level.entry(level).or_default().push((id, user));
    }
    tracing::debug!(
        pending = pending.len(),
        waves = ?by_level.iter().map(|(l, w)| (*l, w.len())).collect::<Vec<_>>(),
        "managers first"
    );
    Ok(by_level.into_values().collect())
}

/// Adds to `users` the managers, up the chain, that have no account in the app
/// yet; returns every user of `users` that is someone's manager there and has
/// no account (the ones that must go first).
async fn pull_managers(
    store: &Store,
    ctx: &CycleContext,
    users: &mut FastMap<UserId, Option<User>>,
    order: &mut Vec<UserId>,
    scheduled: &FastSet<String>,
) -> Result<FastSet<UserId>, EngineError> {
    let mut frontier: Vec<UserId> =
        managers(users.values().flatten()).into_iter().filter(|m| !users.contains_key(m)).collect();
    for _ in 0..MAX_CHAIN {
        frontier = without_account(store, ctx, frontier, scheduled).await?;
        if frontier.is_empty() {
            break;
        }
        let pulled = store.users_by_ids(&frontier).await?;
        frontier = managers(pulled.iter()).into_iter().filter(|m| !users.contains_key(m)).collect();
        for u in pulled {
            if let std::collections::hash_map::Entry::Vacant(slot) = users.entry(u.id.clone()) {
                order.push(u.id.clone());
                slot.insert(Some(u));
            }
        }
        frontier.retain(|m| !users.contains_key(m));
    }
    let inside: Vec<UserId> =
        managers(users.values().flatten()).into_iter().filter(|m| users.contains_key(m)).collect();
    Ok(without_account(store, ctx, inside, scheduled).await?.into_iter().collect())
}

/// The managers named by some users, each once.
fn managers<'a>(users: impl Iterator<Item = &'a User>) -> Vec<UserId> {
    let mut seen = FastSet::default();
    users.filter_map(|u| u.manager.clone()).filter(|m| seen.insert(m.clone())).collect()
}

/// The users among `ids` without an enabled account in the app, as far as the
/// shadow and this cycle's own work know (made, or on its way).
async fn without_account(
    store: &Store,
    ctx: &CycleContext,
    ids: Vec<UserId>,
    scheduled: &FastSet<String>,
) -> Result<Vec<UserId>, EngineError> {
    let ids: Vec<UserId> = ids
        .into_iter()
        .filter(|m| ctx.placed_account(m.as_str()).is_none() && !scheduled.contains(m.as_str()))
        .collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    let refs: Vec<&str> = ids.iter().map(|m| m.as_str()).collect();
    let accounts = store.enabled_accounts(&ctx.app, ObjectKind::User, &refs).await?;
    Ok(ids.into_iter().filter(|m| !accounts.contains_key(m.as_str())).collect())
}

/// How many managers without an account stand above a user in the batch (its
/// wave). A chain that loops is cut where it closes.
fn level_of(id: &UserId, users: &FastMap<UserId, Option<User>>, pending: &FastSet<UserId>) -> usize {
    let mut level = 0;
    let mut seen: FastSet<UserId> = [id.clone()].into_iter().collect();
    let mut current = id.clone();
    while let Some(m) = users.get(&current).and_then(|u| u.as_ref()?.manager.clone()) {
        if !pending.contains(&m) || !seen.insert(m.clone()) || level >= MAX_CHAIN {
            break;
        }
        level += 1;
        current = m;
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, manager: Option<&str>) -> (UserId, Option<User>) {
        let u = User {
            id: UserId::from_stored(id.into()),
            manager: manager.map(|m| UserId::from_stored(m.into())),
            ..User::default()
        };
        (u.id.clone(), Some(u))
    }

    #[test]
    fn levels_count_the_managers_without_an_account_above() {
        let users: FastMap<UserId, Option<User>> = [
            user("ceo", None),
            user("vp", Some("ceo")),
            user("lead", Some("vp")),
            user("dev", Some("lead")),
            user("new", Some("old")),
            user("a", Some("b")),
            user("b", Some("a")),
        ]
        .into_iter()
        .collect();
        let pending: FastSet<UserId> =
            ["ceo", "vp", "lead", "a", "b"].iter().map(|s| UserId::from_stored(s.to_string())).collect();
        let check = |id: &str, want: usize| {
            assert_eq!(level_of(&UserId::from_stored(id.into()), &users, &pending), want, "{id}")
        };
        check("ceo", 0);
        check("vp", 1);
        check("lead", 2);
        check("dev", 3);
        // A manager with an account (or outside the batch) puts no one behind it.
        check("new", 0);
        // A loop ends where it closes.
        check("a", 1);
        check("b", 1);
    }
}
