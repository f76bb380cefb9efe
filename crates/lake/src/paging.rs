//! NextToken handling: tokens are opaque to clients, at least 4 characters
//! (the model's minimum, which botocore enforces), and bound to the list
//! they came from so a token from one list is refused by another.

use wire::{ApiError, ErrorCode};

pub(crate) fn token(list: &str, offset: usize) -> String {
    format!("{list}.{offset:08}")
}

/// The offset a token names; `InvalidNextTokenException` when it is not one of ours.
pub(crate) fn offset(list: &str, token: Option<&str>) -> Result<usize, ApiError> {
    let Some(t) = token else { return Ok(0) };
    t.strip_prefix(list)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidNextToken,
                "The NextToken is not valid for this list. Pass the NextToken of the previous page of the same call unchanged, or omit it to start over.",
            )
        })
}

/// `MaxResults` within 1..=max, or `InvalidMaxResultsException`.
pub(crate) fn page_size(
    max_results: Option<i64>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(ApiError::new(
            ErrorCode::InvalidMaxResults,
            format!("MaxResults {n} is out of range: pass a value from 1 to {max}."),
        )),
    }
}

/// One page of `items` and the token for the next.
pub(crate) fn page<T: Clone>(
    list: &str,
    items: &[T],
    start: usize,
    size: usize,
) -> (Vec<T>, Option<String>) {
    let end = start.saturating_add(size).min(items.len());
    let page = items.get(start.min(end)..end).unwrap_or_default().to_vec();
    let next = (end < items.len()).then(|| token(list, end));
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_list() {
        let t = token("channels", 25);
        assert!(t.len() >= 4);
        assert_eq!(offset("channels", Some(&t)).ok(), Some(25));
        assert!(offset("eds", Some(&t)).is_err());
        assert!(offset("channels", Some("garbage")).is_err());
        let (p, next) = page("x", &[1, 2, 3], 0, 2);
        assert_eq!(p, vec![1, 2]);
        let (p, next) = page(
            "x",
            &[1, 2, 3],
            offset("x", next.as_deref()).unwrap_or(0),
            2,
        );
        assert_eq!((p, next), (vec![3], None));
        assert!(page_size(Some(0), 10, 1000).is_err());
        assert!(page_size(Some(1001), 10, 1000).is_err());
    }
}
