//! Recursive-descent parser from tokens to the syntax tree.
//!
//! Grammar (names case-insensitive):
//!
//! ```text
//! expr    := primary [ "=" primary ]
//! primary := STRING | NUMBER | "[" name "]" | NAME "(" [ arg { "," arg } ] ")"
//!          | True | False | vbBinaryCompare | vbTextCompare
//! arg     := expr | (nothing: an empty slot, null)
//! ```
//!
//! Function names and argument counts are checked here, constant regexes
//! compiled, and nesting limited to [`MAX_DEPTH`] so hostile input cannot
//! overflow the stack.

use super::error::ParseError;
use super::functions::{self, Func};
use super::lexer::{lex, Token, TokenKind};
use super::{Call, Expr, Node};
use crate::value::Value;

/// Deepest nesting of function calls accepted.
pub const MAX_DEPTH: usize = 64;

/// Longest expression source accepted, in bytes (64 KiB).
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;

/// Parses an expression.
///
/// Fails with the position of the first problem: a syntax error, an unknown
/// function ("unknown function Foo" at the name), a wrong number of
/// arguments (at the call), an invalid constant regex, nesting deeper than
/// [`MAX_DEPTH`] or a source longer than [`MAX_SOURCE_BYTES`].
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_SOURCE_BYTES {
        return Err(ParseError::new(
            0,
            format!("expression is {} bytes long; the limit is {MAX_SOURCE_BYTES}", src.len()),
        ));
    }
    let tokens = lex(src)?;
    let mut parser = Parser { tokens, next: 0 };
    if parser.peek().kind == TokenKind::Eof {
        return Err(ParseError::new(0, "empty expression"));
    }
    let root = parser.expr(0)?;
    let end = parser.peek();
    if end.kind != TokenKind::Eof {
        return Err(ParseError::new(
            end.pos,
            format!("unexpected {} after the end of the expression", end.kind.describe()),
        ));
    }
    Ok(Expr::from_root(root))
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with Eof, and `advance` never
        // moves past it.
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        token
    }

    fn expr(&mut self, depth: usize) -> Result<Node, ParseError> {
        let left = self.primary(depth)?;
        if self.peek().kind == TokenKind::Equals {
            self.advance();
            let right = self.primary(depth)?;
            return Ok(Node::Equals(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn primary(&mut self, depth: usize) -> Result<Node, ParseError> {
        let token = self.advance();
        match token.kind {
            TokenKind::Str(s) => Ok(Node::Const(Value::Str(s))),
            TokenKind::Int(i) => Ok(Node::Const(Value::Int(i))),
            TokenKind::Attr(name) => {
                if name.eq_ignore_ascii_case("appRoleAssignments") {
                    Ok(Node::AppRoles(name))
                } else {
                    Ok(Node::Attr(name))
                }
            }
            TokenKind::Ident(name) => {
                if self.peek().kind == TokenKind::LParen {
                    self.call(&name, token.pos, depth + 1)
                } else {
                    named_constant(&name).ok_or_else(|| {
                        ParseError::new(
                            token.pos,
                            format!(
                                "unknown name {name}: write an attribute as [{name}], \
                                 a string as \"{name}\", or call a function as {name}(...)"
                            ),
                        )
                    })
                }
            }
            other => Err(ParseError::new(token.pos, format!("expected a value, found {}", other.describe()))),
        }
    }

    fn call(&mut self, name: &str, pos: usize, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::new(pos, format!("expression is nested deeper than {MAX_DEPTH} function calls")));
        }
        let spec = functions::lookup(name).ok_or_else(|| ParseError::new(pos, format!("unknown function {name}")))?;
        self.advance(); // the '('
        let mut args = Vec::new();
        let mut positions = Vec::new();
        if self.peek().kind == TokenKind::RParen {
            self.advance();
        } else {
            loop {
                let at = self.peek().pos;
                let arg = match self.peek().kind {
                    TokenKind::Comma | TokenKind::RParen => Node::Empty,
                    _ => self.expr(depth)?,
                };
                args.push(arg);
                positions.push(at);
                let sep = self.advance();
                match sep.kind {
                    TokenKind::Comma => continue,
                    TokenKind::RParen => break,
                    other => {
                        return Err(ParseError::new(
                            sep.pos,
                            format!(
                                "expected ',' or ')' in the arguments of {}, found {}",
                                spec.name,
                                other.describe()
                            ),
                        ))
                    }
                }
            }
        }
        spec.check_arity(args.len(), pos)?;
        if spec.func == Func::SelectUniqueValue && depth > 1 {
            return Err(ParseError::new(pos, "SelectUniqueValue must be the outermost function of the expression"));
        }
        let prepared = functions::prepare(spec.func, &args, &positions, pos)?;
        Ok(Node::Call(Box::new(Call { func: spec.func, name: spec.name, args, prepared })))
    }
}

/// The bare names the reference uses as constants.
fn named_constant(name: &str) -> Option<Node> {
    let value = match name.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "vbbinarycompare" => Value::Int(0),
        "vbtextcompare" => Value::Int(1),
        _ => return None,
    };
    Some(Node::Const(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(refs)` expects success with these references; `Err((pos, text))`
    /// a parse error at `pos` whose message contains `text`.
    fn check(input: &str, expected: Result<&[&str], (usize, &str)>) {
        let shown: String = input.chars().take(80).collect();
        match (parse(input), expected) {
            (Ok(e), Ok(refs)) => assert_eq!(e.references(), refs, "references of {shown:?}"),
            (Err(e), Err((pos, text))) => {
                assert_eq!(e.position, pos, "position for {shown:?}: {e}");
                assert!(e.message.contains(text), "message for {shown:?}: {e}");
            }
            (got, want) => panic!("parse({shown:?}) = {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn syntax() {
        check("[givenName]", Ok(&["givenName"]));
        check("Join(\",\", [givenName], [surname])", Ok(&["givenName", "surname"]));
        check("join ( \" \" , [a] , [A] )", Ok(&["a"]));
        check("Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")", Ok(&["IsSoftDeleted"]));
        check("Replace([mailNickname], , \"[a-zA-Z_]*\", , \"\", , )", Ok(&["mailNickname"]));
        check("IIF([country]=\"USA\",[country],[department])", Ok(&["country", "department"]));
        check("InStr(\"repEated\", \"e\", 3, vbBinaryCompare)", Ok(&[]));
        check("Now()", Ok(&[]));
        check("\"x\"", Ok(&[]));
        check("Not(True)", Ok(&[]));
        check("", Err((0, "empty expression")));
        check("   ", Err((0, "empty expression")));
        check("Foo([a])", Err((0, "unknown function Foo")));
        check("Left([a], Foo(1))", Err((10, "unknown function Foo")));
        check("Left([a])", Err((0, "Left expects 2 arguments, got 1")));
        check("Now(1)", Err((0, "Now expects no arguments, got 1")));
        check("Mid(\"a\", 1, 2, 3)", Err((0, "Mid expects 3 arguments, got 4")));
        check("Coalesce()", Err((0, "Coalesce expects at least 1 argument, got 0")));
        check("ToUpper()", Err((0, "ToUpper expects 1 to 2 arguments, got 0")));
        check("Left([a], 1", Err((11, "expected ',' or ')'")));
        check("Left([a] 1)", Err((9, "expected ',' or ')'")));
        check("[a] [b]", Err((4, "after the end")));
        check("givenName", Err((0, "unknown name givenName")));
        check("(1)", Err((0, "expected a value")));
        check("Left(=, 1)", Err((5, "expected a value")));
        check("[a] = ", Err((6, "expected a value")));
        check("Switch([a], \"d\", \"k\")", Err((0, "Switch expects at least 4 arguments")));
        check("Switch([a], \"d\", \"k\", \"v\", \"k2\")", Err((0, "key/value pairs")));
        check("Join(\" \", SelectUniqueValue([a], [b]))", Err((10, "outermost")));
        check("Replace([a], , \"(\", , \"x\", , )", Err((15, "invalid regular expression")));
        check("Replace([a], , , , \"x\", , )", Err((0, "oldValue or a regexPattern")));
    }

    #[test]
    fn nesting_limit() {
        let ok = format!("{}[a]{}", "ToLower(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        check(&ok, Ok(&["a"]));
        let deep = format!("{}[a]{}", "ToLower(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        check(&deep, Err((8 * MAX_DEPTH, "nested deeper than 64")));
    }

    #[test]
    fn hostile_input_is_refused_cleanly() {
        check(&"(".repeat(100_000), Err((0, "100000 bytes long; the limit is 65536")));
        check(&"[".repeat(100_000), Err((0, "bytes long")));
        check(&"(".repeat(60_000), Err((0, "expected a value")));
        check(&"[".repeat(60_000), Err((1, "unexpected '['")));
        check(&"ToLower(".repeat(8_000), Err((8 * MAX_DEPTH, "nested deeper")));
        check(&"a(".repeat(30_000), Err((0, "unknown function a")));
        check(&"\"a\"".repeat(30_000), Err((0, "bytes long")));
    }

    #[test]
    fn render_points_at_the_position() {
        let src = "Left([givenName])";
        let err = parse(src).err().map(|e| e.render(src));
        assert_eq!(err.as_deref(), Some("Left([givenName])\n^ Left expects 2 arguments, got 1"));
        let src = "Join(\" \", Fooo([a]))";
        let err = parse(src).err().map(|e| e.render(src));
        assert_eq!(err.as_deref(), Some("Join(\" \", Fooo([a]))\n          ^ unknown function Fooo"));
    }
}
