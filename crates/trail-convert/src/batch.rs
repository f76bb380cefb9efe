//! Grouping entries into `PutAuditEvents` requests.

use std::collections::HashSet;

use crate::{limits, AuditEvent};

/// `{"auditEvents":[]}`.
const ENVELOPE_BYTES: usize = 18;

/// Splits `events` (order kept) into batches of at most `max_events` (clamped to 1–100)
/// whose serialized `{"auditEvents":[…]}` body is at most `max_bytes`, with no `id` twice in
/// a batch. An event that alone exceeds `max_bytes` forms its own batch.
pub fn batches(
    events: Vec<AuditEvent>,
    max_events: usize,
    max_bytes: usize,
) -> Vec<Vec<AuditEvent>> {
    let max_events = max_events.clamp(1, limits::MAX_EVENTS_PER_REQUEST);
    let mut out = Vec::new();
    let mut current: Vec<AuditEvent> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut bytes = ENVELOPE_BYTES;
    for event in events {
        let size = entry_len(&event);
        let sep = usize::from(!current.is_empty());
        let full = current.len() >= max_events
            || bytes.saturating_add(sep).saturating_add(size) > max_bytes
            || ids.contains(&event.id);
        if full && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            ids.clear();
            bytes = ENVELOPE_BYTES;
        }
        let sep = usize::from(!current.is_empty());
        bytes = bytes.saturating_add(sep).saturating_add(size);
        ids.insert(event.id.clone());
        current.push(event);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn entry_len(e: &AuditEvent) -> usize {
    serde_json::to_vec(e).map_or(usize::MAX, |v| v.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ev(id: &str, data_len: usize) -> AuditEvent {
        AuditEvent {
            id: id.into(),
            event_data: "x".repeat(data_len),
            event_data_checksum: "c".into(),
        }
    }

    fn body_len(batch: &[AuditEvent]) -> usize {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(rename = "auditEvents")]
            audit_events: &'a [AuditEvent],
        }
        serde_json::to_vec(&Body {
            audit_events: batch,
        })
        .unwrap()
        .len()
    }

    #[test]
    fn envelope_constant_matches_serde() {
        assert_eq!(body_len(&[]), ENVELOPE_BYTES);
    }

    #[test]
    fn count_limit() {
        let events: Vec<_> = (0..250).map(|i| ev(&format!("e{i}"), 10)).collect();
        let b = batches(events, 100, 1_000_000);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let events: Vec<_> = (0..5).map(|i| ev(&format!("e{i}"), 10)).collect();
        assert_eq!(batches(events.clone(), 0, 1_000_000).len(), 5);
        assert_eq!(batches(events, 1000, 1_000_000).len(), 1);
    }

    #[test]
    fn byte_limit_is_exact() {
        let events: Vec<_> = (0..40).map(|i| ev(&format!("e{i:02}"), 100 + i)).collect();
        for max in [200, 500, 1000, 1234, 5000] {
            let b = batches(events.clone(), 100, max);
            assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 40);
            for (i, batch) in b.iter().enumerate() {
                assert!(body_len(batch) <= max || batch.len() == 1, "max {max}");
                // Greedy: the next event would not have fitted.
                if let Some(next) = b.get(i + 1).and_then(|n| n.first()) {
                    let mut more = batch.clone();
                    more.push(next.clone());
                    assert!(body_len(&more) > max);
                }
            }
        }
    }

    #[test]
    fn oversize_event_alone() {
        let b = batches(vec![ev("a", 10), ev("b", 5000), ev("c", 10)], 100, 1000);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 1]);
    }

    #[test]
    fn duplicate_ids_split() {
        let b = batches(
            vec![ev("a", 1), ev("b", 1), ev("a", 1), ev("c", 1)],
            100,
            10_000,
        );
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2]);
        assert!(batches(Vec::new(), 100, 10).is_empty());
    }

    #[test]
    fn escaping_counted() {
        let e = AuditEvent {
            id: "q".into(),
            event_data: "\"\\\"".repeat(100),
            event_data_checksum: "c".into(),
        };
        let n = body_len(std::slice::from_ref(&e));
        assert_eq!(batches(vec![e.clone(), e.clone()], 100, n).len(), 2);
        let b = batches(vec![e.clone()], 100, n);
        assert_eq!(b.len(), 1);
    }
}
