//! Who the client is: its user agent and its address, walked back through the
//! trusted proxies' header (never believing a hop that is not an address).

use super::*;

/// Where the request came from, recorded on the session it opens.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        Outcome::Success(client_of(request))
    }
}

/// The request's client: its user agent (cut to a bounded length) and its address,
/// the peer's unless the peer is a trusted proxy (see [`client_address`]).
pub fn client_of(request: &Request<'_>) -> ClientInfo {
    let ip = request.remote().map(|peer| {
        let peer = peer.ip().to_canonical();
        match request.rocket().state::<App>() {
            Some(app) => client_address(peer, request, &app.settings.clients),
            None => peer,
        }
    });
    ClientInfo {
        request_id: Some(crate::web::requests::request_id(request).to_string()),
        ..ClientInfo::new(
            request.headers().get_one("User-Agent"),
            ip.map(|ip| ip.to_string()),
        )
    }
}

/// The client's address: `peer` itself, unless it is a trusted proxy; then the
/// configured header's addresses are read right to left (every occurrence, in order),
/// skipping trusted proxies, and the first untrusted one is the client. A hop that is
/// not an address ends the walk at the last trusted one, so garbage is never believed.
pub fn client_address(peer: IpAddr, request: &Request<'_>, clients: &Clients) -> IpAddr {
    walk_hops(peer, request, clients).0
}

/// [`client_address`], or `None` when a trusted proxy's header held a hop that is not
/// an address: the client is then unknown, which is not the same as being the proxy
/// (what may only be shown to listed addresses, `/metrics`, must not take it for one).
pub fn known_client_address(
    peer: IpAddr,
    request: &Request<'_>,
    clients: &Clients,
) -> Option<IpAddr> {
    match walk_hops(peer, request, clients) {
        (address, true) => Some(address),
        (_, false) => None,
    }
}

/// The client's address, and whether the walk ended on an address (not on garbage).
pub(super) fn walk_hops(peer: IpAddr, request: &Request<'_>, clients: &Clients) -> (IpAddr, bool) {
    let Some(header) = &clients.client_ip_header else {
        return (peer, true);
    };
    if !clients.trusts(peer) {
        return (peer, true);
    }
    let hops: Vec<&str> = request
        .headers()
        .get(header)
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = parse_hop(hop) else {
            return (client, false);
        };
        client = address;
        if !clients.trusts(address) {
            break;
        }
    }
    (client, true)
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:443`.
pub(super) fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}
