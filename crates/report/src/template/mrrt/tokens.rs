//! HTML to a flat list of tags and text with their lines (html5ever's tokenizer, told which
//! elements hold raw text, since no tree builder does it here).

use std::cell::RefCell;
use std::collections::HashMap;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// One tag or run of text, with its line.
#[derive(Debug)]
pub(super) enum Event {
    Start {
        name: String,
        attrs: HashMap<String, String>,
        line: usize,
    },
    End {
        name: String,
    },
    Text(String),
}

#[derive(Default)]
struct Sink {
    events: RefCell<Vec<Event>>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<()> {
        let mut events = self.events.borrow_mut();
        match token {
            Token::TagToken(tag) => {
                let name = tag.name.to_string();
                if tag.kind == TagKind::EndTag {
                    events.push(Event::End { name });
                    return TokenSinkResult::Continue;
                }
                let attrs = tag
                    .attrs
                    .iter()
                    .map(|a| (a.name.local.to_string(), a.value.to_string()))
                    .collect();
                // The tokenizer alone does not know which elements hold raw text; without
                // this, the XML coded content MRRT keeps in a <script> would read as tags.
                let raw = match name.as_str() {
                    "script" => Some(RawKind::ScriptData),
                    "style" => Some(RawKind::Rawtext),
                    "title" | "textarea" => Some(RawKind::Rcdata),
                    _ => None,
                };
                events.push(Event::Start {
                    name,
                    attrs,
                    line: usize::try_from(line).unwrap_or(usize::MAX),
                });
                match raw {
                    Some(kind) if !tag.self_closing => TokenSinkResult::RawData(kind),
                    _ => TokenSinkResult::Continue,
                }
            }
            Token::CharacterTokens(text) => {
                events.push(Event::Text(text.to_string()));
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }
}

pub(super) fn tokenize(html: &str) -> Vec<Event> {
    let tokenizer = Tokenizer::new(Sink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.events.take()
}
