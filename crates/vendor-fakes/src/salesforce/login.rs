//! The fake's login endpoints: the SOAP API `login()` call (a
//! `loginResponse` on success, a SOAP fault with HTTP 500 on failure) and
//! the OAuth 2.0 client credentials token endpoint.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{lock, SalesforceState, SharedState};

const INVALID_LOGIN: &str = "Invalid username, password, security token; or user locked out.";
const MUST_USE_TOKEN: &str = "Invalid username, password, security token; or user locked out. Are you at a new \
     location? When accessing Salesforce from outside of your company's trusted networks, you must add a security \
     token to your password to log in.";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The text of the first element named `local` (any prefix).
fn element(xml: &str, local: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        let name = &rest[..end];
        if name.rsplit(':').next() != Some(local) || name.starts_with('/') {
            continue;
        }
        let body = &rest[rest.find('>')? + 1..];
        return Some(unescape(&body[..body.find('<')?]));
    }
    None
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")], body).into_response()
}

/// A login fault as Salesforce sends it: HTTP 500, `sf:CODE`.
fn fault(code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:sf=\"urn:fault.partner.soap.sforce.com\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {m}</faultstring>\
         <detail><sf:LoginFault xsi:type=\"sf:LoginFault\"><sf:exceptionCode>{code}</sf:exceptionCode>\
         <sf:exceptionMessage>{m}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>\
         </soapenv:Envelope>",
        m = escape(message)
    );
    xml(StatusCode::INTERNAL_SERVER_ERROR, body)
}

fn new_session(st: &mut SalesforceState) -> String {
    let token = format!("{}!{:032x}", st.org.org_id, rand::random::<u128>());
    st.sessions.insert(token.clone());
    st.logins += 1;
    token
}

/// Which login fault, if any, a username and password get.
fn check_password(st: &SalesforceState, username: &str, password: &str) -> Option<(&'static str, &'static str)> {
    let admin = &st.org.admin;
    if !username.eq_ignore_ascii_case(&admin.username) {
        return Some(("INVALID_LOGIN", INVALID_LOGIN));
    }
    let with_token = format!("{}{}", admin.password, admin.security_token);
    if password == with_token || (!admin.token_required && password == admin.password) {
        return None;
    }
    if password == admin.password {
        return Some(("LOGIN_MUST_USE_SECURITY_TOKEN", MUST_USE_TOKEN));
    }
    Some(("INVALID_LOGIN", INVALID_LOGIN))
}

/// `POST /services/Soap/u/{version}`: `login()`.
pub(super) async fn soap_login(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut st = lock(&state);
    st.record("POST", "soap-login", &format!("/services/Soap/u/{version}"), None);
    if headers.get("soapaction").is_none() {
        return fault("INVALID_SOAP_HEADER", "a SOAPAction HTTP header is required");
    }
    // login() is available up to API version 64.0.
    match version.split_once('.').and_then(|(major, _)| major.parse::<u32>().ok()) {
        Some(major) if major <= 64 => {}
        _ => return fault("UNSUPPORTED_API_VERSION", "login() is available in API version 64.0 and earlier"),
    }
    let (Some(username), Some(password)) = (element(&body, "username"), element(&body, "password")) else {
        return fault("INVALID_LOGIN", INVALID_LOGIN);
    };
    if let Some((code, message)) = check_password(&st, &username, &password) {
        return fault(code, message);
    }
    let session = new_session(&mut st);
    let org = &st.org;
    let base = &st.base_url;
    let user_id = st.admin_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns=\"urn:partner.soap.sforce.com\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <soapenv:Body><loginResponse><result>\
         <metadataServerUrl>{base}/services/Soap/m/{version}/{org_id}</metadataServerUrl>\
         <passwordExpired>{expired}</passwordExpired><sandbox>false</sandbox>\
         <serverUrl>{base}/services/Soap/u/{version}/{org_id}</serverUrl>\
         <sessionId>{session}</sessionId><userId>{user_id}</userId>\
         <userInfo><organizationId>{org_id}</organizationId><organizationName>{org_name}</organizationName>\
         <userEmail>{user}</userEmail><userFullName>Org Admin</userFullName><userId>{user_id}</userId>\
         <userName>{user}</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>",
        expired = org.admin.password_expired,
        org_id = org.org_id,
        org_name = escape(&org.name),
        user = escape(&org.admin.username),
    );
    xml(StatusCode::OK, body)
}

/// Decodes `application/x-www-form-urlencoded`.
fn form(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                    match hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// `POST /services/oauth2/token`: the client credentials flow.
pub(super) async fn token(State(state): State<SharedState>, body: String) -> Response {
    let mut st = lock(&state);
    st.record("POST", "oauth-token", "/services/oauth2/token", None);
    let params = form(&body);
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if param("grant_type") != Some("client_credentials") {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    let Some(app) = st.org.connected_app.clone() else {
        return oauth_error("invalid_client_id", "client identifier invalid");
    };
    if param("client_id") != Some(app.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if param("client_secret") != Some(app.client_secret.as_str()) {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    let access_token = new_session(&mut st);
    let body: Value = json!({
        "access_token": access_token,
        "signature": format!("{:x}", rand::random::<u64>()),
        "instance_url": st.base_url,
        "id": format!("{}/id/{}/{}", st.base_url, st.org.org_id, st.admin_id()),
        "token_type": "Bearer",
        "issued_at": chrono::Utc::now().timestamp_millis().to_string(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_login_requests() {
        let body = "<env:Envelope><env:Body><n1:login xmlns:n1=\"urn:partner.soap.sforce.com\">\
                    <n1:username>a&amp;b@x.com</n1:username><n1:password>p&lt;w</n1:password></n1:login>\
                    </env:Body></env:Envelope>";
        assert_eq!(element(body, "username").as_deref(), Some("a&b@x.com"));
        assert_eq!(element(body, "password").as_deref(), Some("p<w"));
        assert_eq!(element(body, "missing"), None);
    }

    #[test]
    fn decodes_forms() {
        let got = form("grant_type=client_credentials&client_secret=a%2Bb+c%26&x=%zz&y");
        let want: Vec<(String, String)> =
            [("grant_type", "client_credentials"), ("client_secret", "a+b c&"), ("x", "%zz"), ("y", "")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(got, want);
    }
}
