//! The IAM actions of the services Cairn serves (`cloudtrail`,
//! `cloudtrail-data`, `iam`, `sts`), generated from the service models and the
//! Service Authorization Reference by `codegen/actions.py`.

pub use crate::actions_generated::{Service, SERVICES};

impl Service {
    /// Every action name of the service (operations, then permission-only
    /// actions), without the prefix.
    pub fn actions(&self) -> impl Iterator<Item = &'static str> {
        self.operations
            .iter()
            .chain(self.permission_only.iter())
            .copied()
    }

    /// The action's name as AWS spells it, matched case-insensitively
    /// (`startquery` → `StartQuery`).
    pub fn find(&self, name: &str) -> Option<&'static str> {
        self.actions().find(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The catalogued service with action prefix `prefix` (case-insensitive).
pub fn service(prefix: &str) -> Option<&'static Service> {
    SERVICES
        .iter()
        .find(|s| s.prefix.eq_ignore_ascii_case(prefix))
}

/// Whether `action` (`prefix:Name`, no wildcards) exists: `None` when Cairn
/// does not catalogue the service (`s3:GetObject`), otherwise `Some`.
pub fn is_known_action(action: &str) -> Option<bool> {
    let (prefix, name) = action.split_once(':')?;
    service(prefix).map(|s| s.find(name).is_some())
}

/// The action as AWS spells it (`CLOUDTRAIL:startquery` →
/// `cloudtrail:StartQuery`), when it is catalogued.
pub fn canonical_action(action: &str) -> Option<String> {
    let (prefix, name) = action.split_once(':')?;
    let s = service(prefix)?;
    s.find(name).map(|n| format!("{}:{n}", s.prefix))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn catalogue() {
        assert_eq!(
            canonical_action("CLOUDTRAIL-DATA:putauditevents").as_deref(),
            Some("cloudtrail-data:PutAuditEvents")
        );
        assert_eq!(is_known_action("cloudtrail:StartQuery"), Some(true));
        assert_eq!(is_known_action("cloudtrail:PutEvent"), Some(false));
        assert_eq!(is_known_action("s3:GetObject"), None);
        for a in [
            "iam:PassRole",
            "sts:TagSession",
            "sts:SetSourceIdentity",
            "sts:SetContext",
            "sts:AssumeRole",
            "iam:CreateUser",
            "cloudtrail:CreateServiceLinkedChannel",
        ] {
            assert_eq!(is_known_action(a), Some(true), "{a}");
        }
        let ct = service("cloudtrail").unwrap();
        assert_eq!(ct.operations.len(), 60);
        assert_eq!(service("cloudtrail-data").unwrap().actions().count(), 1);
        // Sorted and without duplicates (the generator is deterministic).
        for s in SERVICES {
            let all: Vec<&str> = s.actions().collect();
            let mut uniq = all.clone();
            uniq.sort_unstable();
            uniq.dedup();
            assert_eq!(uniq.len(), all.len(), "{}", s.prefix);
            assert!(s.operations.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
