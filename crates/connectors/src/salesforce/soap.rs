//! The XML of the SOAP API `login()` call: the request envelope, written with
//! XML escaping, and the answer, read with quick-xml.
//!
//! The answer's elements are picked out by their local names, prefixes and
//! namespaces ignored (Salesforce's partner answers declare a default
//! namespace; the fault's detail uses `sf:`), and by where SOAP puts them: a
//! fault's code and strings inside `Fault`, the session inside
//! `loginResponse`. The first element of a name wins. Comments and CDATA are
//! text, never elements, so a tag written inside them fools nothing. A DOCTYPE
//! (and with it any entity it could define) is refused, and only XML's five
//! entities and character references are resolved.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;
use secrecy::SecretString;

/// How deep the answer's elements may nest: Salesforce's go five deep.
const MAX_DEPTH: usize = 64;

/// The SOAP request of `login()` for the partner WSDL.
pub(super) fn login_envelope(username: &str, password: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <env:Body><n1:login xmlns:n1=\"urn:partner.soap.sforce.com\">\
         <n1:username>{}</n1:username><n1:password>{}</n1:password>\
         </n1:login></env:Body></env:Envelope>",
        escape(username),
        escape(password)
    )
}

/// A SOAP fault: why Salesforce refused the login.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Fault {
    /// `faultcode`, e.g. `sf:INVALID_LOGIN`.
    pub(super) code: Option<String>,
    /// `faultstring`, e.g. `INVALID_LOGIN: Invalid username, ...`.
    pub(super) string: Option<String>,
    /// The `LoginFault` detail's `exceptionMessage`, the plainest of the three.
    pub(super) exception_message: Option<String>,
}

/// What the answer of `login()` says. Every text is trimmed, and an empty
/// element (`<userId/>`, `xsi:nil`) is `None`.
#[derive(Debug, Default)]
pub(super) struct LoginAnswer {
    /// The fault, when the answer is one.
    pub(super) fault: Option<Fault>,
    /// `passwordExpired` is `true`.
    pub(super) password_expired: bool,
    /// The `serverUrl` of the org's instance.
    pub(super) server_url: Option<String>,
    /// The `sessionId` (never printed).
    pub(super) session_id: Option<SecretString>,
    /// The logged-in user's `userId`.
    pub(super) user_id: Option<String>,
    /// The logged-in user's `userName` (in `userInfo`).
    pub(super) user_name: Option<String>,
}

/// An element roster reads, and where it must stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    FaultCode,
    FaultString,
    ExceptionMessage,
    PasswordExpired,
    ServerUrl,
    SessionId,
    UserId,
    UserName,
}

impl Wanted {
    /// The element `local` as one roster reads, given whether it stands inside
    /// a `Fault` and inside a `loginResponse`.
    fn of(local: &[u8], in_fault: bool, in_response: bool) -> Option<Wanted> {
        let wanted = match local {
            b"faultcode" if in_fault => Wanted::FaultCode,
            b"faultstring" if in_fault => Wanted::FaultString,
            b"exceptionMessage" if in_fault => Wanted::ExceptionMessage,
            b"passwordExpired" if in_response => Wanted::PasswordExpired,
            b"serverUrl" if in_response => Wanted::ServerUrl,
            b"sessionId" if in_response => Wanted::SessionId,
            b"userId" if in_response => Wanted::UserId,
            b"userName" if in_response => Wanted::UserName,
            _ => return None,
        };
        Some(wanted)
    }
}

/// One open element: its local name, and its text if roster reads it.
struct Open {
    local: Vec<u8>,
    reading: Option<(Wanted, String)>,
}

/// Reads the answer of `login()`; an answer that is not well-formed XML, or
/// that declares a DOCTYPE or an unknown entity, is an error that says what
/// is wrong and where.
pub(super) fn read_login_answer(xml: &str) -> Result<LoginAnswer, String> {
    let mut reader = Reader::from_str(xml.strip_prefix('\u{feff}').unwrap_or(xml));
    let mut state = AnswerState { open: Vec::new(), answer: LoginAnswer::default() };
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(event) => event,
            Err(e) => return Err(format!("{e} (at byte {})", reader.error_position())),
        };
        state.take(event).map_err(|e| format!("{e} (at byte {})", reader.buffer_position()))?;
    }
    if let Some(unclosed) = state.open.last() {
        return Err(format!("the answer ends inside <{}>", String::from_utf8_lossy(&unclosed.local)));
    }
    Ok(state.answer)
}

/// The elements open at a point of the answer, and what was read so far.
struct AnswerState {
    open: Vec<Open>,
    answer: LoginAnswer,
}

impl AnswerState {
    /// Takes in one event of the answer.
    fn take(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Start(start) => {
                well_formed_attributes(&start)?;
                if self.open.len() == MAX_DEPTH {
                    return Err(format!("elements nest deeper than {MAX_DEPTH}"));
                }
                let local = start.local_name().as_ref().to_vec();
                let in_fault = local == b"Fault" || self.open.iter().any(|o| o.local == b"Fault");
                let in_response = self.open.iter().any(|o| o.local == b"loginResponse");
                let reading = Wanted::of(&local, in_fault, in_response).map(|w| (w, String::new()));
                self.open.push(Open { local, reading });
            }
            Event::End(_) => {
                // quick-xml checks that the end tag matches the start tag.
                if let Some(Open { reading: Some((wanted, text)), .. }) = self.open.pop() {
                    keep(&mut self.answer, wanted, text.trim());
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content().map_err(|e| e.to_string())?;
                if self.open.is_empty() && !text.trim().is_empty() {
                    return Err("text outside the document's element".to_string());
                }
                self.read(&text);
            }
            Event::CData(data) => self.read(&data.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(reference) => self.read(&resolve_reference(&reference)?),
            Event::DocType(_) => return Err("the answer declares a DOCTYPE, which SOAP does not allow".to_string()),
            Event::Empty(empty) => well_formed_attributes(&empty)?,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::Eof => {}
        }
        Ok(())
    }

    /// Adds text to the innermost element, if roster reads it.
    fn read(&mut self, text: &str) {
        if let Some((_, into)) = self.open.last_mut().and_then(|o| o.reading.as_mut()) {
            into.push_str(text);
        }
    }
}

/// Checks a tag's attributes, which quick-xml reads only when asked.
fn well_formed_attributes(tag: &quick_xml::events::BytesStart<'_>) -> Result<(), String> {
    tag.attributes().try_for_each(|a| a.map(drop)).map_err(|e| e.to_string())
}

/// The text of `&name;`: one of XML's five entities or a character reference.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = reference.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(c.to_string());
    }
    let name = reference.decode().map_err(|e| e.to_string())?;
    match resolve_predefined_entity(&name) {
        Some(text) => Ok(text.to_string()),
        None => Err(format!("the entity &{name}; is not one of XML's own")),
    }
}

/// Keeps the first non-empty text of each element roster reads.
fn keep(answer: &mut LoginAnswer, wanted: Wanted, text: &str) {
    if text.is_empty() {
        return;
    }
    let first = |slot: &mut Option<String>| {
        slot.get_or_insert_with(|| text.to_string());
    };
    match wanted {
        Wanted::FaultCode => first(&mut answer.fault.get_or_insert_with(Fault::default).code),
        Wanted::FaultString => first(&mut answer.fault.get_or_insert_with(Fault::default).string),
        Wanted::ExceptionMessage => first(&mut answer.fault.get_or_insert_with(Fault::default).exception_message),
        Wanted::PasswordExpired => answer.password_expired |= text.eq_ignore_ascii_case("true"),
        Wanted::ServerUrl => first(&mut answer.server_url),
        Wanted::SessionId => {
            answer.session_id.get_or_insert_with(|| SecretString::from(text));
        }
        Wanted::UserId => first(&mut answer.user_id),
        Wanted::UserName => first(&mut answer.user_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const ANSWER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
        xmlns=\"urn:partner.soap.sforce.com\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
        <soapenv:Body><loginResponse><result>\
        <metadataServerUrl>https://acme.my.salesforce.com/services/Soap/m/64.0/00D</metadataServerUrl>\
        <passwordExpired>false</passwordExpired><sandbox>false</sandbox>\
        <serverUrl>https://acme.my.salesforce.com/services/Soap/u/64.0/00D</serverUrl>\
        <sessionId>00D!AQ&amp;x&#x41;</sessionId><userId>005A</userId>\
        <userInfo><userId>005B</userId><userName>admin@acme.com</userName></userInfo>\
        </result></loginResponse></soapenv:Body></soapenv:Envelope>";

    const FAULT: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
        xmlns:sf=\"urn:fault.partner.soap.sforce.com\">\
        <soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>\
        <faultstring>INVALID_LOGIN: Invalid username &amp; password</faultstring>\
        <detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>\
        <sf:exceptionMessage>Invalid username &amp; password</sf:exceptionMessage></sf:LoginFault></detail>\
        </soapenv:Fault></soapenv:Body></soapenv:Envelope>";

    /// The session id, server URL and fault string of an answer.
    type Read = (Option<String>, Option<String>, Option<String>);

    /// What an answer says that the login reads first, or its error.
    fn read(xml: &str) -> Result<Read, String> {
        let a = read_login_answer(xml)?;
        let session = a.session_id.as_ref().map(|s| s.expose_secret().to_string());
        Ok((session, a.server_url, a.fault.and_then(|f| f.string)))
    }

    fn body(inner: &str) -> String {
        format!("<Envelope><Body><loginResponse><result>{inner}</result></loginResponse></Body></Envelope>")
    }

    #[test]
    fn a_normal_answer_gives_the_session() {
        let a = read_login_answer(ANSWER).expect("a well-formed answer");
        assert_eq!(a.session_id.as_ref().map(|s| s.expose_secret()), Some("00D!AQ&xA"));
        assert_eq!(a.server_url.as_deref(), Some("https://acme.my.salesforce.com/services/Soap/u/64.0/00D"));
        assert_eq!(a.user_id.as_deref(), Some("005A"));
        assert_eq!(a.user_name.as_deref(), Some("admin@acme.com"));
        assert!(!a.password_expired && a.fault.is_none());
        assert!(!format!("{a:?}").contains("00D!AQ"), "the session id is never printed");
    }

    #[test]
    fn a_fault_answer_gives_its_faultstring() {
        let a = read_login_answer(FAULT).expect("a well-formed fault");
        let want = Fault {
            code: Some("sf:INVALID_LOGIN".into()),
            string: Some("INVALID_LOGIN: Invalid username & password".into()),
            exception_message: Some("Invalid username & password".into()),
        };
        assert_eq!(a.fault, Some(want));
        assert!(a.session_id.is_none());
    }

    #[test]
    fn malformed_xml_is_an_error_that_says_where() {
        for xml in [
            "<Envelope><Body></Envelope>",
            "<Envelope><Body>",
            "<Envelope attr=></Envelope>",
            "<Envelope>a & b</Envelope>",
            "not xml at all",
            "<a><b></a></b>",
        ] {
            let e = read(xml).expect_err(xml);
            assert!(!e.is_empty(), "{xml}: {e}");
        }
        assert_eq!(read("<Envelope><Body>").expect_err("cut short"), "the answer ends inside <Body>");
        assert!(read("<a></b>").expect_err("mismatched").contains("at byte"));
    }

    #[test]
    fn an_answer_without_a_session_id_has_none() {
        let (session, server, fault) = read(&body("<serverUrl>https://x.salesforce.com/</serverUrl>")).expect("xml");
        assert_eq!((session, server.as_deref(), fault), (None, Some("https://x.salesforce.com/"), None));
        let (session, ..) = read(&body("<sessionId xsi:nil=\"true\"/><sessionId>  </sessionId>")).expect("xml");
        assert_eq!(session, None);
    }

    #[test]
    fn tags_in_comments_cdata_or_elsewhere_do_not_count() {
        let fake = "<sessionId>FAKE</sessionId><serverUrl>https://attacker.example/</serverUrl>";
        let cases = [
            body(&format!("<!-- {fake} --><sessionId>REAL</sessionId>")),
            body(&format!("<userEmail><![CDATA[{fake}]]></userEmail><sessionId>REAL</sessionId>")),
            format!("<Envelope><Header>{fake}</Header>{}</Envelope>", body("<sessionId>REAL</sessionId>")),
        ];
        for xml in &cases {
            let (session, server, _) = read(xml).expect(xml);
            assert_eq!((session.as_deref(), server), (Some("REAL"), None), "{xml}");
        }
        let cdata = body("<sessionId><![CDATA[a<b>&c]]></sessionId>");
        assert_eq!(read(&cdata).expect("cdata").0.as_deref(), Some("a<b>&c"));
        let faked_fault = body("<userName><faultstring>no</faultstring></userName><sessionId>S</sessionId>");
        assert_eq!(read(&faked_fault).expect("xml"), (Some("S".into()), None, None));
    }

    #[test]
    fn hostile_answers_are_refused_without_panic() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \
            \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><Envelope>&lol1;</Envelope>";
        assert!(read(laughs).expect_err("a DOCTYPE").contains("DOCTYPE"));
        let external = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>";
        assert!(read(external).expect_err("a DOCTYPE").contains("DOCTYPE"));
        assert!(read(&body("<sessionId>&e;</sessionId>")).expect_err("an unknown entity").contains("&e;"));
        assert!(read(&body("<sessionId>&#0;</sessionId>")).is_err());
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(read(&deep).expect_err("too deep").contains("deeper than"));
        let huge = body(&format!("<sessionId>{}</sessionId>", "x".repeat(4 << 20)));
        assert_eq!(read(&huge).expect("a long session id").0.map(|s| s.len()), Some(4 << 20));
        for xml in ["<", "<!--", "<![CDATA[", "<?", "&", "<a b='", "\u{feff}<a>", "<a>&#xFFFFFFFF;</a>"] {
            let _ = read(xml);
        }
    }

    #[test]
    fn the_envelope_escapes_credentials() {
        let e = login_envelope("a&b@x.com", "p<w>d\"'");
        assert!(e.contains("<n1:username>a&amp;b@x.com</n1:username>"), "{e}");
        assert!(e.contains("<n1:password>p&lt;w&gt;d&quot;&apos;</n1:password>"), "{e}");
        assert!(read_login_answer(&e).is_ok(), "the envelope is well-formed XML");
    }
}
