/**
 * Finds a secret in text the way an attacker reading an export would: as is, and inside every base64
 * string (Temporal's JSON exports carry payloads base64-encoded, so a plain grep would miss them).
 */

const BASE64 = /^[A-Za-z0-9+/]{8,}={0,2}$/;

/** The text plus the decoded form of every base64 string in it (recursively, for JSON). */
export function decodedCorpus(text: string): string {
  const parts = [text];
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      if (BASE64.test(value) && value.length % 4 === 0) {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        parts.push(decoded);
        if (/^[[{]/.test(decoded.trim())) tryJson(decoded);
      }
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  const tryJson = (t: string): void => {
    try {
      visit(JSON.parse(t));
    } catch {
      // Not JSON (log lines, JSON Lines): scan line by line below.
      for (const line of t.split('\n')) {
        if (!/^[[{]/.test(line.trim())) continue;
        try {
          visit(JSON.parse(line));
        } catch {
          // A log line that merely starts with a brace.
        }
      }
    }
  };
  tryJson(text);
  return parts.join('\n');
}

/** The three base64 renderings a secret can take inside a longer base64 string, one per byte offset. */
function base64Forms(secret: string): string[] {
  return [0, 1, 2].map((pad) => {
    const encoded = Buffer.from('x'.repeat(pad) + secret).toString('base64');
    // Drop the characters that depend on the padding bytes or on what follows the secret.
    const start = Math.ceil((pad * 4) / 3) + 1;
    return encoded.slice(start, encoded.length - 4);
  });
}

/** Names of the sources (keys of `sources`) in which any secret appears, plain or encoded. */
export function sourcesContaining(sources: Record<string, string>, secrets: string[]): string[] {
  const hits: string[] = [];
  for (const [name, text] of Object.entries(sources)) {
    const corpus = decodedCorpus(text);
    for (const secret of secrets) {
      if (corpus.includes(secret) || base64Forms(secret).some((form) => form.length >= 8 && text.includes(form)))
        hits.push(`${name} contains ${secret.slice(0, 3)}…`);
    }
  }
  return hits;
}
