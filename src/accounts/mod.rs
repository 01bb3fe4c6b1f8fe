//! Accounts: the `Account` model here; beside it the validated forms of names and
//! addresses (`names.rs`), the table's SQL (`store.rs`), the login attempt budget
//! (`attempts.rs`), administrators' guarded changes (`guarded.rs`) and admin searches
//! (`search.rs`). Everything keeps its `accounts::` path.

use serde::Serialize;
use sqlx::{AnyPool, FromRow};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

use crate::db::{Backend, DbPool};
use crate::text::TextRule;

mod attempts;
mod guarded;
mod names;
mod search;
mod store;

pub use attempts::*;
pub use guarded::*;
pub use names::*;
pub use search::*;
pub use store::*;

/// An account as the API shows it: never its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "id": 42,
    "username": "alice",
    "email": "alice@example.com",
    "display_name": "Alice Liddell",
    "is_active": true,
    "is_staff": false,
    "is_superuser": false,
    "created_at": 1767225600,
    "email_verified": true,
    "email_verified_at": 1767225900
})))]
pub struct Account {
    pub id: i64,
    /// As typed at registration (NFKC, trimmed); sign-in ignores case.
    pub username: String,
    pub email: String,
    /// How the person likes to be called; null when unset.
    pub display_name: Option<String>,
    /// False: deactivated by an admin; it cannot sign in.
    pub is_active: bool,
    /// May use the admin API.
    pub is_staff: bool,
    /// Staff who may also change roles and delete accounts.
    pub is_superuser: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// The owner followed a verification link sent to `email`.
    pub email_verified: bool,
    /// When, in unix seconds; null while unverified.
    pub email_verified_at: Option<i64>,
}

crate::table_row! {
    /// An account row with its password hash and its lockout and block state, for the
    /// flows and the admin views; never serialised as a whole. A new column of
    /// `accounts` is one line here (and one in `Account` if clients should see it).
    #[derive(Debug, Clone)]
    pub struct AccountRow {
        pub id: i64,
        pub username: String,
        pub email: String,
        pub display_name: Option<String>,
        pub password_hash: String,
        /// The hash was made from the NFKC form (see migration 0006).
        pub password_normalized: bool,
        pub is_active: bool,
        pub is_staff: bool,
        pub is_superuser: bool,
        pub created_at: i64,
        /// Set by every password change (not by a re-hash of the same password).
        pub password_changed_at: Option<i64>,
        /// Raised by every password change (migration 0012).
        pub password_version: i64,
        pub failed_logins: i64,
        pub locked_at: Option<i64>,
        pub locked_until: Option<i64>,
        pub blocked_at: Option<i64>,
        pub block_reason: Option<String>,
        pub blocked_by: Option<i64>,
        /// The sealed TOTP secret (see `two_factor`), set from setup on.
        pub totp_secret: Option<String>,
        /// The session that started an unconfirmed enrolment (see migration 0009).
        pub totp_setup_session: Option<String>,
        /// When the owner proved the address is theirs (migration 0010).
        pub email_verified_at: Option<i64>,
        /// When 2FA was switched on; `None` while off or only set up.
        pub totp_enabled_at: Option<i64>,
        pub totp_last_step: Option<i64>,
    }
}

/// Whether a login may be attempted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Open,
    /// Locked for this many more seconds.
    For(i64),
    /// Locked until an admin unlocks it.
    UntilUnlocked,
}

impl AccountRow {
    /// The names a new password of this account must not contain.
    pub fn owner(&self) -> crate::password::policy::Owner<'_> {
        crate::password::policy::Owner {
            username: &self.username,
            email: &self.email,
        }
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked_at.is_some()
    }

    /// The lock in force at `now`; a lock whose time has passed is open.
    pub fn lock(&self, now: i64) -> Lock {
        match (self.locked_at, self.locked_until) {
            (None, _) => Lock::Open,
            (Some(_), None) => Lock::UntilUnlocked,
            (Some(_), Some(until)) if until > now => Lock::For(until - now),
            (Some(_), Some(_)) => Lock::Open,
        }
    }
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Account {
        Account {
            id: row.id,
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            is_active: row.is_active,
            is_staff: row.is_staff,
            is_superuser: row.is_superuser,
            created_at: row.created_at,
            email_verified: row.email_verified_at.is_some(),
            email_verified_at: row.email_verified_at,
        }
    }
}

/// An account as the admin API shows it: the public fields plus lock and block state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "id": 42,
    "username": "alice",
    "email": "alice@example.com",
    "display_name": "Alice Liddell",
    "is_active": true,
    "is_staff": false,
    "is_superuser": false,
    "created_at": 1767225600,
    "email_verified": true,
    "email_verified_at": 1767225900,
    "failed_logins": 0,
    "locked": false,
    "locked_until": null,
    "blocked": true,
    "block_reason": "Sent spam to other members",
    "blocked_at": 1767312000,
    "blocked_by": 1,
    "two_factor_enabled": false
})))]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: Account,
    /// Verified failures of a secret (password or code) counting towards a lock.
    pub failed_logins: i64,
    pub locked: bool,
    /// When the lock lapses; null while unlocked or when only an admin can unlock.
    pub locked_until: Option<i64>,
    pub blocked: bool,
    /// The reason the blocking admin gave; null while not blocked.
    pub block_reason: Option<String>,
    /// When, in unix seconds; null while not blocked.
    pub blocked_at: Option<i64>,
    /// The admin who blocked it; null for the CLI, or while not blocked.
    pub blocked_by: Option<i64>,
    pub two_factor_enabled: bool,
}

impl AccountDetail {
    pub fn new(row: AccountRow, now: i64) -> AccountDetail {
        let lock = row.lock(now);
        AccountDetail {
            failed_logins: row.failed_logins,
            locked: lock != Lock::Open,
            locked_until: match lock {
                Lock::For(seconds) => Some(now + seconds),
                Lock::Open | Lock::UntilUnlocked => None,
            },
            blocked: row.blocked_at.is_some(),
            block_reason: row.block_reason.clone(),
            blocked_at: row.blocked_at,
            blocked_by: row.blocked_by,
            two_factor_enabled: row.totp_enabled_at.is_some(),
            account: row.into(),
        }
    }
}

/// Which unique field a new account collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakenField {
    Username,
    Email,
}

impl TakenField {
    pub fn name(self) -> &'static str {
        match self {
            TakenField::Username => "username",
            TakenField::Email => "email",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0:?} is already taken")]
    Taken(TakenField),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The fields of a new account.
pub struct NewAccount<'a> {
    pub username: &'a Username,
    pub email: &'a Email,
    pub display_name: Option<&'a DisplayName>,
    pub password_hash: &'a str,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Created with its address already verified (a superuser made by the CLI).
    pub email_verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_nfkc_trimmed_and_keyed_in_lower_case() {
        let name = Username::parse("  ＡｌｉｃＥ ").unwrap();
        assert_eq!(name.display, "AlicE");
        assert_eq!(name.key, "alice");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        for bad in ["al ice", "al@ice", "al/ice", "al\u{0}ice"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Username::parse("bob_the-builder.2").is_ok());
        // Refused by its size before NFKC would expand it (U+FDFA is 18 characters).
        assert!(Username::parse(&"\u{FDFA}".repeat(10_000)).is_err());
    }

    #[test]
    fn usernames_keep_to_one_script_and_look_alikes_share_a_skeleton() {
        let mixed = Username::parse("r\u{043e}ot").unwrap_err();
        assert!(mixed.contains("scripts"), "{mixed}");
        for fine in [
            "алиса",
            "κώστας",
            "山田_taro",
            "たなか",
            "bob.smith-2",
            "josé",
        ] {
            assert!(Username::parse(fine).is_ok(), "{fine}");
        }
        let latin = Username::parse("coco").unwrap();
        let cyrillic = Username::parse("\u{0441}\u{043e}\u{0441}\u{043e}").unwrap();
        assert_ne!(latin.key, cyrillic.key);
        assert_eq!(latin.skeleton, cyrillic.skeleton);
        assert_eq!(
            Username::parse("Paypal").unwrap().skeleton,
            Username::parse("paypaI").unwrap().skeleton,
            "a capital I is a small l"
        );
        let alice = Username::parse("alice").unwrap().skeleton;
        for look_alike in [
            "alic\u{1eb9}",
            "\u{1ea1}lice",
            "alic\u{117}",
            "ali\u{e7}e",
            "alic\u{e9}",
            "a.lice",
            "al_ice",
            "alice-",
        ] {
            assert_eq!(
                Username::parse(look_alike).unwrap().skeleton,
                alice,
                "{look_alike}"
            );
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        let email = Email::parse(" Alice@Example.COM ").unwrap();
        assert_eq!(
            email.display, "Alice@example.com",
            "the domain in one spelling"
        );
        assert_eq!(email.key, "alice@example.com");
        for bad in [
            "alice",
            "@example.com",
            "alice@example",
            "alice@.example.com",
            "alice@example.com.",
            "al ice@example.com",
            "a@b@example.com",
            "alice@exa\u{7}mple.com",
            "alice\u{202E}@example.com",
            "ali\u{200B}ce@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn domains_are_mapped_by_uts46_and_look_alike_labels_refused() {
        let mapped = Email::parse("ann@B\u{dc}CHER.example").unwrap();
        assert_eq!(mapped.display, "ann@xn--bcher-kva.example");
        assert_eq!(
            mapped.key,
            Email::parse("ann@XN--BCHER-KVA.example").unwrap().key
        );
        assert_eq!(email_lookup_key("ANN@b\u{fc}cher.example"), mapped.key);
        // UTS #46 ignores variation selectors and maps the ideographic full stop.
        assert_eq!(
            email_lookup_key("ann@b\u{fc}ch\u{fe00}er\u{3002}example"),
            mapped.key
        );
        // "pаypal" with a Cyrillic а, typed or as its xn-- form.
        for look_alike in ["bob@p\u{430}ypal.com", "bob@xn--pypal-4ve.com"] {
            assert!(
                Email::parse(look_alike).unwrap_err().contains("scripts"),
                "{look_alike}"
            );
        }
        // Whole-script look-alikes of ASCII names, typed or encoded.
        for look_alike in [
            "ceo@\u{430}\u{440}\u{440}\u{4cf}\u{435}.com",
            "ceo@xn--80ak6aa92e.com",
        ] {
            assert!(
                Email::parse(look_alike).unwrap_err().contains("looks like"),
                "{look_alike}"
            );
        }
        for bad in [
            "a@b..c",
            "a@-a-.com",
            "a@exa_mple.com",
            "bob@xn--zz.example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Email::parse("li@\u{4f8b}\u{3048}.example").is_ok(),
            "Han and kana"
        );
    }

    #[test]
    fn a_login_finds_the_same_key_whichever_form_is_typed() {
        assert_eq!(login_key("ＡＬＩＣＥ"), login_key("alice"));
        assert_eq!(login_key(" Alice@Example.com"), "alice@example.com");
    }

    #[test]
    fn display_names_are_optional_nfc_and_single_line() {
        assert_eq!(DisplayName::parse("  ").unwrap(), None);
        let name = DisplayName::parse(" Ame\u{301}lie ").unwrap().unwrap();
        assert_eq!(name.as_str(), "Am\u{e9}lie");
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse("two\nlines").is_err());
        assert!(DisplayName::parse("rtl\u{202E}").is_err());
    }

    #[test]
    fn a_lock_is_open_once_its_time_has_passed() {
        let row = |locked_at, locked_until| AccountRow {
            id: 1,
            username: "a".into(),
            email: "a@example.com".into(),
            display_name: None,
            password_hash: String::new(),
            password_normalized: true,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            created_at: 0,
            password_changed_at: None,
            password_version: 0,
            failed_logins: 0,
            locked_at,
            locked_until,
            blocked_at: None,
            block_reason: None,
            blocked_by: None,
            totp_secret: None,
            totp_setup_session: None,
            email_verified_at: None,
            totp_enabled_at: None,
            totp_last_step: None,
        };
        assert_eq!(row(None, None).lock(100), Lock::Open);
        assert_eq!(row(Some(50), None).lock(100), Lock::UntilUnlocked);
        assert_eq!(row(Some(50), Some(160)).lock(100), Lock::For(60));
        assert_eq!(row(Some(50), Some(100)).lock(100), Lock::Open);
    }
}

/// An account as staff see it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "account": {
        "id": 42,
        "username": "alice",
        "email": "alice@example.com",
        "display_name": "Alice Liddell",
        "is_active": true,
        "is_staff": false,
        "is_superuser": false,
        "created_at": 1767225600,
        "email_verified": true,
        "email_verified_at": 1767225900,
        "failed_logins": 0,
        "locked": false,
        "locked_until": null,
        "blocked": true,
        "block_reason": "Sent spam to other members",
        "blocked_at": 1767312000,
        "blocked_by": 1,
        "two_factor_enabled": false
    }
})))]
pub struct AccountDetailAnswer {
    account: AccountDetail,
}

impl AccountDetailAnswer {
    pub fn new(account: AccountDetail) -> AccountDetailAnswer {
        AccountDetailAnswer { account }
    }
}
