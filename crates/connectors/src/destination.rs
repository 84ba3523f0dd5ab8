//! Where roster may send a request, whatever URL an admin (or a login server)
//! gives it. A URL pointing at a cloud's metadata service or at a link-local
//! address would make roster fetch the server's own cloud credentials for whoever
//! can edit an app's settings; a private address, a service of the internal
//! network. So: loopback is always allowed (tests, the demo, a local app),
//! link-local, metadata and unspecified addresses never, private ranges only for
//! an app whose `allowPrivateNetworks` is set. The check runs on the URL's host
//! when it is an address, and on every address a name resolves to, through the
//! client's resolver, so that a name pointing at 169.254.169.254 is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Marks the errors of this check in a transport error's text.
pub(crate) const REFUSED: &str = "roster refuses this destination";

/// Host names of cloud metadata services.
const METADATA_NAMES: [&str; 4] =
    ["metadata.google.internal", "metadata.goog", "metadata.azure.internal", "instance-data.ec2.internal"];

/// Why a request may not go to `ip`, if it may not.
pub fn refusal(ip: IpAddr, allow_private_networks: bool) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4, allow_private_networks),
        IpAddr::V6(v6) => refusal_v6(v6, allow_private_networks),
    }
}

fn refusal_v4(ip: Ipv4Addr, allow_private: bool) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_link_local() || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("a link-local or cloud metadata address")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        Some("not an address of a server")
    } else if (ip.is_private() || (a == 100 && (64..128).contains(&b))) && !allow_private {
        Some("a private network address (set allowPrivateNetworks on the app to allow it)")
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr, allow_private: bool) -> Option<&'static str> {
    let first = ip.segments()[0];
    let metadata = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
    if (first & 0xffc0) == 0xfe80 || ip == metadata {
        Some("a link-local or cloud metadata address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not an address of a server")
    } else if (first & 0xfe00) == 0xfc00 && !allow_private {
        Some("a private network address (set allowPrivateNetworks on the app to allow it)")
    } else {
        None
    }
}

/// Why a request may not go to the host of `url`, if it may not: an address
/// checked as [`refusal`] does, or the name of a metadata service.
pub fn url_refusal(url: &reqwest::Url, allow_private_networks: bool) -> Option<String> {
    let reason = match url.host()? {
        url::Host::Ipv4(ip) => refusal(IpAddr::V4(ip), allow_private_networks)?,
        url::Host::Ipv6(ip) => refusal(IpAddr::V6(ip), allow_private_networks)?,
        url::Host::Domain(name) => metadata_name(name)?,
    };
    Some(format!("{} is {reason}", url.host_str().unwrap_or_default()))
}

fn metadata_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    METADATA_NAMES.contains(&name.as_str()).then_some("a cloud metadata service")
}

/// The resolver of every connector's client: resolves as the system does, and
/// refuses a name any of whose addresses is refused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    pub(crate) allow_private_networks: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private_networks;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let refused = |reason: String| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(std::io::Error::new(std::io::ErrorKind::PermissionDenied, format!("{REFUSED}: {reason}")))
            };
            if let Some(reason) = metadata_name(&host) {
                return Err(refused(format!("{host} is {reason}")));
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((ip, reason)) = addrs.iter().find_map(|a| refusal(a.ip(), allow).map(|r| (a.ip(), r))) {
                return Err(refused(format!("{host} resolves to {ip}, {reason}")));
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver, shared by a client.
pub(crate) fn resolver(allow_private_networks: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow_private_networks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ip: &str, allow_private: bool, refused: bool) {
        let ip: IpAddr = ip.parse().expect("an address");
        assert_eq!(refusal(ip, allow_private).is_some(), refused, "{ip} allow_private={allow_private}");
    }

    #[test]
    fn metadata_and_link_local_are_refused_private_only_when_allowed() {
        check("127.0.0.1", false, false);
        check("::1", false, false);
        check("93.184.215.14", false, false);
        check("169.254.169.254", false, true);
        check("169.254.169.254", true, true);
        check("100.100.100.200", true, true);
        check("fe80::1", true, true);
        check("fd00:ec2::254", true, true);
        check("::ffff:169.254.169.254", true, true);
        check("0.0.0.0", true, true);
        check("10.0.0.7", false, true);
        check("10.0.0.7", true, false);
        check("172.16.3.4", false, true);
        check("192.168.1.1", false, true);
        check("100.64.0.1", false, true);
        check("fd12::1", false, true);
        check("fd12::1", true, false);
        check("2606:4700::1111", false, false);
    }

    #[test]
    fn metadata_names_are_refused() {
        let url = |u: &str| reqwest::Url::parse(u).expect("url");
        assert!(url_refusal(&url("http://metadata.google.internal/computeMetadata/v1/"), true).is_some());
        assert!(url_refusal(&url("http://169.254.169.254/latest/meta-data/"), true).is_some());
        assert!(url_refusal(&url("https://app.example.com/scim"), false).is_none());
        assert!(url_refusal(&url("http://localhost:8080/scim"), false).is_none());
    }
}
