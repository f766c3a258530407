//! Registry names: a host with an optional port.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ParseError;

/// A registry, named by its host and an optional port: `wasi.dev`, `ghcr.io`,
/// `localhost:5000`, `[::1]:5000`.
///
/// Host names are compared without regard to case and stored in lowercase. A registry name
/// has no scheme and no path: the protocol and any path prefix come from the registry's
/// configuration or its well-known metadata.
///
/// ```
/// use registry_core::Registry;
///
/// let registry: Registry = "localhost:5000".parse().unwrap();
/// assert_eq!(registry.host(), "localhost");
/// assert_eq!(registry.port(), Some(5000));
/// assert!(registry.is_loopback());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Registry {
    /// `host` or `host:port`, host lowercased; IPv6 hosts keep their brackets.
    full: String,
    /// Length of the host part of `full`.
    host_len: usize,
    port: Option<u16>,
}

const REGISTRY_EXAMPLE: &str = "ghcr.io";

impl Registry {
    /// The host, e.g. `ghcr.io`, `127.0.0.1` or `[::1]`.
    pub fn host(&self) -> &str {
        &self.full[..self.host_len]
    }

    /// The port, when one is given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The whole name, `host` or `host:port`.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// Whether the host is `localhost` or a loopback address: the only hosts for which
    /// plain `http` is acceptable without explicit configuration.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return ip.is_loopback();
        }
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| ip.is_loopback())
    }
}

impl FromStr for Registry {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str, example: &str| ParseError::new(s, "registry", reason, example);
        if let Some((scheme, rest)) = s.split_once("://") {
            let example = rest.split('/').next().unwrap_or(REGISTRY_EXAMPLE);
            return Err(fail(
                &format!("a registry is a host name, without the `{scheme}://` scheme"),
                if example.is_empty() {
                    REGISTRY_EXAMPLE
                } else {
                    example
                },
            ));
        }
        if let Some((host, _path)) = s.split_once('/') {
            return Err(fail(
                "a registry is a host name with an optional port and no path; an OCI path \
                 prefix goes in the registry's `oci` settings",
                if host.is_empty() {
                    REGISTRY_EXAMPLE
                } else {
                    host
                },
            ));
        }
        let (host, port) = split_port(s).map_err(|reason| fail(&reason, "localhost:5000"))?;
        let host = host.to_ascii_lowercase();
        check_host(&host).map_err(|reason| fail(&reason, REGISTRY_EXAMPLE))?;
        let full = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        Ok(Self {
            full,
            host_len: host.len(),
            port,
        })
    }
}

/// Splits `host[:port]` (with `[v6]:port` for IPv6) and parses the port.
fn split_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => match &s[end + 1..] {
                "" => (s, None),
                rest => match rest.strip_prefix(':') {
                    Some(port) => (&s[..=end], Some(port)),
                    None => return Err(format!("unexpected `{rest}` after the IPv6 address")),
                },
            },
            None => return Err("an IPv6 address is missing its closing `]`".to_owned()),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("port `{p}` is not a number from 1 to 65535")),
            Ok(port) => Ok(port),
        })
        .transpose()?;
    Ok((host, port))
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host name is empty".to_owned());
    }
    if let Some(v6) = host.strip_prefix('[') {
        let inner = v6.strip_suffix(']').unwrap_or(v6);
        return inner
            .parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("`{inner}` is not an IPv6 address"));
    }
    if host.contains(':') {
        return Err("an IPv6 address must be written in brackets, as in `[::1]:5000`".to_owned());
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".to_owned());
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(format!("host `{host}` has an empty label between dots"));
        }
        if label.len() > 63 {
            return Err(format!("host label `{label}` is longer than 63 characters"));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "host contains {bad:?}; only letters, digits, `-` and `.` are allowed"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("host label `{label}` starts or ends with `-`"));
        }
    }
    Ok(())
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Registry({:?})", self.full)
    }
}

impl Serialize for Registry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for Registry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn err(input: &str) -> String {
        input.parse::<Registry>().unwrap_err().to_string()
    }

    #[test]
    fn valid_registries() {
        let cases = [
            ("wasi.dev", "wasi.dev", None),
            ("GHCR.io", "ghcr.io", None),
            ("localhost:5000", "localhost", Some(5000)),
            ("127.0.0.1:8080", "127.0.0.1", Some(8080)),
            ("[::1]:5000", "[::1]", Some(5000)),
            ("[::1]", "[::1]", None),
            ("my-registry.example.com", "my-registry.example.com", None),
        ];
        for (input, host, port) in cases {
            let registry: Registry = input.parse().unwrap();
            assert_eq!(registry.host(), host, "{input}");
            assert_eq!(registry.port(), port, "{input}");
        }
        assert_eq!(
            "GHCR.io".parse::<Registry>().unwrap().to_string(),
            "ghcr.io"
        );
    }

    #[test]
    fn loopback() {
        for loopback in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.2:1",
            "[::1]:80",
        ] {
            assert!(
                loopback.parse::<Registry>().unwrap().is_loopback(),
                "{loopback}"
            );
        }
        for remote in [
            "ghcr.io",
            "10.0.0.1:5000",
            "[2001:db8::1]",
            "localhost.example.com",
        ] {
            assert!(
                !remote.parse::<Registry>().unwrap().is_loopback(),
                "{remote}"
            );
        }
    }

    #[test]
    fn invalid_registries_explain_themselves() {
        expect![[r#""https://ghcr.io/acme" is not a valid registry: a registry is a host name, without the `https://` scheme, e.g. "ghcr.io""#]]
            .assert_eq(&err("https://ghcr.io/acme"));
        expect![[r#""ghcr.io/acme" is not a valid registry: a registry is a host name with an optional port and no path; an OCI path prefix goes in the registry's `oci` settings, e.g. "ghcr.io""#]]
            .assert_eq(&err("ghcr.io/acme"));
        expect![[r#""localhost:99999" is not a valid registry: port `99999` is not a number from 1 to 65535, e.g. "localhost:5000""#]]
            .assert_eq(&err("localhost:99999"));
        expect![[r#""" is not a valid registry: the host name is empty, e.g. "ghcr.io""#]]
            .assert_eq(&err(""));
        expect![[r#""bad host" is not a valid registry: host contains ' '; only letters, digits, `-` and `.` are allowed, e.g. "ghcr.io""#]]
            .assert_eq(&err("bad host"));
        expect![[r#""a..b" is not a valid registry: host `a..b` has an empty label between dots, e.g. "ghcr.io""#]]
            .assert_eq(&err("a..b"));
        expect![[r#""::1" is not a valid registry: an IPv6 address must be written in brackets, as in `[::1]:5000`, e.g. "ghcr.io""#]]
            .assert_eq(&err("::1"));
        expect![[r#""-x.io" is not a valid registry: host label `-x` starts or ends with `-`, e.g. "ghcr.io""#]]
            .assert_eq(&err("-x.io"));
    }
}
