//! What the service tells its operator: the Prometheus metrics (off by default, and
//! then served only to listed addresses), the format of its log lines, and whether a
//! proxy's request ids are kept.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::clients::parse_network;
use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub metrics_enabled: bool,
    pub metrics_allowed: Vec<String>,
    pub log_format: String,
    pub trust_request_id: bool,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            metrics_enabled: false,
            metrics_allowed: vec!["127.0.0.1".into(), "::1".into()],
            log_format: "text".into(),
            trust_request_id: false,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

#[derive(Debug, Clone)]
pub struct Observability {
    /// Serve `GET /metrics`.
    pub metrics_enabled: bool,
    /// The client addresses `/metrics` answers, as addresses or networks. The client
    /// address is the one the trusted-proxy rules give, so a scrape through the
    /// public proxy is refused even when the proxy itself is listed.
    pub metrics_allowed: Vec<IpNet>,
    pub log_format: LogFormat,
    /// Keep a trusted proxy's `X-Request-Id`. Only for a proxy that sets or
    /// overwrites it: one that passes the client's own along lets clients choose ids.
    pub trust_request_id: bool,
}

impl Observability {
    pub fn from_raw(raw: Raw) -> Result<Observability, ConfigError> {
        let metrics_allowed = raw
            .metrics_allowed
            .iter()
            .map(|text| parse_network(text).map_err(|e| invalid("metrics_allowed", e)))
            .collect::<Result<Vec<_>, _>>()?;
        if raw.metrics_enabled && metrics_allowed.is_empty() {
            return Err(invalid(
                "metrics_allowed",
                "metrics_enabled is on but no address may read /metrics: list the scraper's \
                 address or network",
            ));
        }
        let log_format = match raw.log_format.trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log_format",
                    format!("`{other}` is neither \"text\" nor \"json\""),
                ))
            }
        };
        Ok(Observability {
            metrics_enabled: raw.metrics_enabled,
            metrics_allowed,
            log_format,
            trust_request_id: raw.trust_request_id,
        })
    }

    pub fn may_read_metrics(&self, client: std::net::IpAddr) -> bool {
        let client = client.to_canonical();
        self.metrics_allowed.iter().any(|net| net.contains(&client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_answer_only_listed_addresses_and_the_format_is_named() {
        let on = Observability::from_raw(Raw {
            metrics_enabled: true,
            metrics_allowed: vec!["10.0.0.0/8".into(), "::1".into()],
            ..Raw::default()
        })
        .unwrap();
        assert!(on.may_read_metrics("10.1.2.3".parse().unwrap()));
        assert!(on.may_read_metrics("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!on.may_read_metrics("192.168.0.1".parse().unwrap()));
        assert!(Observability::from_raw(Raw {
            metrics_enabled: true,
            metrics_allowed: vec![],
            ..Raw::default()
        })
        .is_err());
        assert!(Observability::from_raw(Raw {
            metrics_allowed: vec!["anywhere".into()],
            ..Raw::default()
        })
        .is_err());
        assert!(Observability::from_raw(Raw {
            log_format: "xml".into(),
            ..Raw::default()
        })
        .is_err());
        let json = Observability::from_raw(Raw {
            log_format: "json".into(),
            ..Raw::default()
        });
        assert_eq!(json.unwrap().log_format, LogFormat::Json);
    }
}
