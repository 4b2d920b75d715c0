//! The SVG both pictures are written with: a small writer that escapes text and rounds numbers compactly, and
//! the palette they colour nodes and series from.

/// Well-separated hues that read on white (after Trubetskoy's 20 distinct colours, the pale ones darkened and
/// grey left out because stargates are grey), most distinct first.
pub(crate) const PALETTE: [&str; 16] = [
    "#e6194b", // red
    "#4363d8", // blue
    "#3cb44b", // green
    "#f58231", // orange
    "#911eb4", // purple
    "#42d4f4", // cyan
    "#f032e6", // magenta
    "#9a6324", // brown
    "#469990", // teal
    "#000075", // navy
    "#e6b400", // gold
    "#800000", // maroon
    "#8fc31f", // lime
    "#808000", // olive
    "#f78fb3", // pink
    "#8c7ae6", // lavender
];

/// An SVG document being written.
pub(crate) struct Svg(pub(crate) String);

impl Svg {
    /// Appends markup as is.
    pub(crate) fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Appends text, escaped for XML content and attribute values; characters XML 1.0 forbids become U+FFFD.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&apos;"),
                '\t' | '\n' | '\r' => self.0.push(c),
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => self.0.push('\u{FFFD}'),
                c => self.0.push(c),
            }
        }
        self
    }

    /// Appends an unsigned integer.
    pub(crate) fn uint(&mut self, mut value: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.0.push(char::from(d));
        }
        self
    }

    /// Appends a number rounded to one decimal, without a trailing `.0`; non-finite numbers as 0.
    pub(crate) fn num(&mut self, value: f64) -> &mut Self {
        self.fixed(value, 10.0)
    }

    /// Appends a number rounded to two decimals (for legend bars that may be thinner than a pixel).
    pub(crate) fn num2(&mut self, value: f64) -> &mut Self {
        self.fixed(value, 100.0)
    }

    pub(crate) fn fixed(&mut self, value: f64, scale: f64) -> &mut Self {
        // Picture coordinates are far below the clamp; it only keeps absurd input from saturating the cast.
        let scaled = (value * scale).round().clamp(-1e15, 1e15);
        if !scaled.is_finite() || scaled == 0.0 {
            self.0.push('0');
            return self;
        }
        if scaled < 0.0 {
            self.0.push('-');
        }
        let scaled = scaled.abs() as u64;
        let scale = scale as u64;
        self.uint(scaled / scale);
        let mut fraction = scaled % scale;
        if fraction != 0 {
            self.0.push('.');
            let mut unit = scale / 10;
            while fraction != 0 && unit != 0 {
                self.0.push(char::from(b'0' + (fraction / unit) as u8));
                fraction %= unit;
                unit /= 10;
            }
        }
        self
    }

    /// `<text x y attributes>escaped content</text>`.
    pub(crate) fn text_element(&mut self, x: f64, y: f64, attributes: &str, content: &str) {
        self.raw("<text x=\"").num(x).raw("\" y=\"").num(y).raw("\" ").raw(attributes).raw(">").text(content);
        self.raw("</text>\n");
    }

    /// [`Svg::text_element`] with a `text-anchor`.
    pub(crate) fn text_element_anchored(&mut self, x: f64, y: f64, attributes: &str, anchor: &str, content: &str) {
        self.raw("<text x=\"").num(x).raw("\" y=\"").num(y).raw("\" text-anchor=\"").raw(anchor).raw("\" ");
        self.raw(attributes).raw(">").text(content).raw("</text>\n");
    }
}

/// A check that what the writer produced is well-formed XML, for the pictures' tests.
#[cfg(test)]
pub(crate) mod check {
    /// A small XML well-formedness check: one root `svg` element, balanced tags, quoted attributes, text free of
    /// `<` and of `&` that does not start an entity.
    pub(crate) fn check_xml(svg: &str) -> Result<(), String> {
        let body = svg.trim();
        let body = match body.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").ok_or("unterminated declaration")?.1.trim_start(),
            None => body,
        };
        if !body.starts_with("<svg") || !body.ends_with("</svg>") {
            return Err("not an svg document".into());
        }
        let mut stack: Vec<&str> = Vec::new();
        let mut roots = 0;
        let mut rest = body;
        while !rest.is_empty() {
            let open = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..open];
            check_text(text)?;
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            rest = &rest[open..];
            if rest.is_empty() {
                break;
            }
            let close = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let opened = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
                if opened != name {
                    return Err(format!("<{opened}> closed by </{name}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let inner = tag.strip_suffix('/').unwrap_or(tag);
            let (name, attributes) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
                return Err(format!("bad element name {name:?}"));
            }
            check_attributes(attributes)?;
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed elements {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(())
    }

    fn check_attributes(mut rest: &str) -> Result<(), String> {
        let mut names = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                return Ok(());
            }
            let (name, value) = rest.split_once("=\"").ok_or(format!("unquoted attribute in {rest:?}"))?;
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                return Err(format!("bad attribute name {name:?}"));
            }
            if names.contains(&name) {
                return Err(format!("attribute {name} twice"));
            }
            names.push(name);
            let (value, after) = value.split_once('"').ok_or("unterminated attribute value")?;
            check_text(value)?;
            rest = after;
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        if text.contains('<') || text.contains('>') {
            return Err(format!("unescaped markup character in {text:?}"));
        }
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            let named = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| entity.starts_with(e));
            if !named {
                return Err(format!("bad entity at {:?}", &entity[..entity.len().min(10)]));
            }
        }
        Ok(())
    }

    #[test]
    fn the_checker_rejects_broken_markup() {
        assert!(check_xml("<svg><g></svg>").is_err());
        assert!(check_xml("<svg><title>A&B</title></svg>").is_err());
        assert!(check_xml("<svg><title>a<b</title></svg>").is_err());
        assert!(check_xml("<svg x=1></svg>").is_err());
        assert!(check_xml("<svg></svg><svg></svg>").is_err());
        assert!(check_xml("<?xml version=\"1.0\"?>\n<svg a=\"&amp;\"><g/>x&lt;</svg>\n").is_ok());
    }
}
