//! Splits an expression's source into tokens: punctuation, `"strings"`
//! (where `\` escapes the next character), whole numbers, `[attribute]`
//! references and bare identifiers (function names and the few named
//! constants). Positions are 0-based character offsets.

use super::error::ParseError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    Comma,
    Equals,
    Str(String),
    Int(i64),
    Attr(String),
    Ident(String),
    Eof,
}

impl TokenKind {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenKind::LParen => "'('".into(),
            TokenKind::RParen => "')'".into(),
            TokenKind::Comma => "','".into(),
            TokenKind::Equals => "'='".into(),
            TokenKind::Str(s) => format!("string {s:?}"),
            TokenKind::Int(i) => format!("number {i}"),
            TokenKind::Attr(a) => format!("attribute [{a}]"),
            TokenKind::Ident(i) => format!("name {i}"),
            TokenKind::Eof => "the end of the expression".into(),
        }
    }
}

/// A token and the character offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: usize,
}

/// Tokenizes `src`; the last token is always [`TokenKind::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => single(&mut i, TokenKind::LParen),
            ')' => single(&mut i, TokenKind::RParen),
            ',' => single(&mut i, TokenKind::Comma),
            '=' => single(&mut i, TokenKind::Equals),
            '"' => TokenKind::Str(string(&chars, &mut i)?),
            '[' => TokenKind::Attr(attribute(&chars, &mut i)?),
            '-' | '0'..='9' => TokenKind::Int(number(&chars, &mut i)?),
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                TokenKind::Ident(chars[start..i].iter().collect())
            }
            ']' => {
                return Err(ParseError::new(i, "unexpected ']' without a matching '['"));
            }
            other => {
                return Err(ParseError::new(i, format!("unexpected character {other:?}")));
            }
        };
        tokens.push(Token { kind, pos: start });
    }
    tokens.push(Token { kind: TokenKind::Eof, pos: chars.len() });
    Ok(tokens)
}

fn single(i: &mut usize, kind: TokenKind) -> TokenKind {
    *i += 1;
    kind
}

/// A `"..."` constant; `\` takes the next character literally.
fn string(chars: &[char], i: &mut usize) -> Result<String, ParseError> {
    let start = *i;
    *i += 1;
    let mut out = String::new();
    while let Some(&c) = chars.get(*i) {
        match c {
            '"' => {
                *i += 1;
                return Ok(out);
            }
            '\\' => match chars.get(*i + 1) {
                Some(&next) => {
                    out.push(next);
                    *i += 2;
                }
                None => break,
            },
            c => {
                out.push(c);
                *i += 1;
            }
        }
    }
    Err(ParseError::new(start, "unterminated string: missing closing '\"'"))
}

/// An `[attribute]` reference. Names may hold letters, digits and most
/// punctuation (`_ . : - / @ # $` and spaces inside), but not brackets,
/// quotes, parentheses or commas.
fn attribute(chars: &[char], i: &mut usize) -> Result<String, ParseError> {
    let start = *i;
    *i += 1;
    let name_start = *i;
    while let Some(&c) = chars.get(*i) {
        match c {
            ']' => {
                let name: String = chars[name_start..*i].iter().collect();
                let name = name.trim();
                *i += 1;
                if name.is_empty() {
                    return Err(ParseError::new(start, "empty attribute name '[]'"));
                }
                return Ok(name.to_string());
            }
            '[' | '"' | '(' | ')' | ',' => {
                return Err(ParseError::new(*i, format!("unexpected {c:?} in an attribute name")));
            }
            c if c.is_control() => {
                return Err(ParseError::new(*i, "unexpected control character in an attribute name"));
            }
            _ => *i += 1,
        }
    }
    Err(ParseError::new(start, "unterminated attribute reference: missing closing ']'"))
}

/// A whole number, optionally negative.
fn number(chars: &[char], i: &mut usize) -> Result<i64, ParseError> {
    let start = *i;
    if chars[*i] == '-' {
        *i += 1;
    }
    let digits_start = *i;
    while chars.get(*i).is_some_and(char::is_ascii_digit) {
        *i += 1;
    }
    if *i == digits_start {
        return Err(ParseError::new(start, "expected digits after '-'"));
    }
    if chars.get(*i).is_some_and(|c| *c == '.' || c.is_alphanumeric()) {
        return Err(ParseError::new(start, "only whole numbers are supported (write other values as strings)"));
    }
    let text: String = chars[start..*i].iter().collect();
    text.parse().map_err(|_| ParseError::new(start, format!("number {text} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<Vec<TokenKind>, usize>) {
        let got = lex(input).map(|t| t.into_iter().map(|t| t.kind).collect::<Vec<_>>());
        let got = got.map_err(|e| e.position);
        let mut expected = expected;
        if let Ok(v) = &mut expected {
            v.push(TokenKind::Eof);
        }
        assert_eq!(got, expected, "lex({input:?})");
    }

    use TokenKind::*;

    #[test]
    fn tokens() {
        check("Left([a], 2)", Ok(vec![Ident("Left".into()), LParen, Attr("a".into()), Comma, Int(2), RParen]));
        check(r#""a\"b\\c""#, Ok(vec![Str("a\"b\\c".into())]));
        check("[ extension_ab.c:1 ]", Ok(vec![Attr("extension_ab.c:1".into())]));
        check("-12 = 3", Ok(vec![Int(-12), Equals, Int(3)]));
        check("  ", Ok(vec![]));
        check("\"abc", Err(0));
        check("x \"a\\", Err(2));
        check("[abc", Err(0));
        check("[a[b]", Err(2));
        check("[ ]", Err(0));
        check("1.5", Err(0));
        check("99999999999999999999", Err(0));
        check("-", Err(0));
        check("a ; b", Err(2));
        check("é]", Err(1));
    }
}
