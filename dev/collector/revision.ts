// The `revision` header: `YYYY-MM-DD[.suffix]`, e.g. `2023-01-24` or `2024-10-15.pre`.
import { SCHEMA_REVISIONS, type SchemaRevision } from './schemas';

const FORMAT = /^(\d{4})-(\d{2})-(\d{2})(\.[A-Za-z0-9]+)?$/;

/**
 * The schema revision a `revision` header selects: the newest one whose date is not after the
 * header's date. Undefined when the header is missing, malformed, not a real date, or older than
 * the oldest revision (2023-01-24).
 */
/** No schema file exists for 2023-07-15, the revision that dropped meta.identifiers (DESIGN §4): a date from then
 *  until 2023-09-14 is checked against the 2023-09-15 file, the next one, less the one field it adds:
 *  attributes._kx. True for such a date (YYYY-MM-DD). */
export const lacksKx = (date: string) => date >= '2023-07-15' && date < '2023-09-15';

export function schemaRevisionFor(header: string | undefined): SchemaRevision | undefined {
  const m = header === undefined ? null : FORMAT.exec(header);
  if (!m) return undefined;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  // Round-trip through Date to refuse 2023-02-30 and friends.
  if (Number.isNaN(Date.parse(date)) || new Date(date).toISOString().slice(0, 10) !== date) return undefined;
  const effective = lacksKx(date) ? '2023-09-15' : date;
  return [...SCHEMA_REVISIONS].reverse().find((r) => r <= effective);
}
