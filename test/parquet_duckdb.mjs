// parquet_duckdb.mjs -- reads Parquet files with DuckDB, a reader kalam
// does not share a line of code with, for test/kalam_parquet.test.
//
//   node parquet_duckdb.mjs DIR NAME...
//   node parquet_duckdb.mjs --write DIR
//
// The second form has DuckDB write files of its own into DIR, the other
// way round: duck_zstd.parquet and duck_plain.parquet use only what kalam's
// reader reads (PLAIN values, zstd or none), duck_snappy.parquet and
// duck_v2.parquet what it refuses (Snappy; the format version 2 encodings,
// such as DELTA_BINARY_PACKED). Each has a BIGINT, DOUBLE, VARCHAR,
// BOOLEAN and BLOB column with NULLs, and field ids.
//
// For each DIR/NAME.parquet the first form writes, with DuckDB's answers:
//
//   NAME.duck.rows    read_parquet's rows, in file order
//   NAME.duck.stats   parquet_metadata's statistics per row group and column:
//                     group, column, null count, min, max ("-" when none)
//   NAME.duck.schema  parquet_schema's columns: name, field_id, physical
//                     type, logical type, converted type, repetition; and
//                     DuckDB's SQL type of each column
//
// Values are written in the text form of test/parquet_test.c (NULL; integers,
// booleans as 0/1 and timestamps as Unix milliseconds in decimal; 'r' and the
// 64 bits of a double in hex; 't' TEXT, 'b' BLOB, 'j' JSON followed by the
// bytes in hex), so that the test compares them with what was written.
// Conversions are DuckDB's own (hex, epoch_ms, casts) except for doubles,
// whose bits are taken in JavaScript.
//
// The DuckDB package is installed under build/node by `make test-deps`;
// this script is run from there so that Node finds it.

import { DuckDBInstance } from '@duckdb/node-api';
import { writeFileSync } from 'node:fs';

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const write = process.argv[2] === '--write';
const [dir, ...names] = process.argv.slice(write ? 3 : 2);

// A SQL string literal.
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

// The 64 bits of a double as 16 hex digits.
function doubleBits(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return 'r' + view.getBigUint64(0).toString(16).padStart(16, '0');
}

async function rows(sql) {
  const reader = await con.runAndReadAll(sql);
  return reader.getRowsJS();
}

// SQL that turns column (or expression) c of DuckDB type t into its text
// form, but for doubles, which come back as numbers.
function textOf(c, t) {
  switch (t) {
    case 'BIGINT': return `CAST(${c} AS VARCHAR)`;
    case 'BOOLEAN': return `CAST(CAST(${c} AS INTEGER) AS VARCHAR)`;
    case 'TIMESTAMP WITH TIME ZONE': return `CAST(epoch_ms(${c}) AS VARCHAR)`;
    case 'VARCHAR': return `'t' || lower(hex(${c}))`;
    case 'JSON': return `'j' || lower(hex(CAST(${c} AS VARCHAR)))`;
    case 'BLOB': return `'b' || lower(hex(${c}))`;
    case 'DOUBLE': return `${c}`;
    default: throw new Error(`unexpected DuckDB type ${t} of ${c}`);
  }
}

const show = (v, t) => v === null ? 'NULL'
  : t === 'DOUBLE' ? doubleBits(v) : String(v);

if (write) {
  const data = `SELECT
      CASE WHEN i%7=3 THEN NULL ELSE (i*2654435761) % 1000003 - 500000 END::BIGINT AS i,
      CASE WHEN i%5=2 THEN NULL ELSE i/7.0 END::DOUBLE AS r,
      CASE WHEN i%3=1 THEN NULL ELSE 'row ' || i || ' \u00e9' END AS t,
      CASE WHEN i%4=1 THEN NULL ELSE i%2=0 END AS b,
      CASE WHEN i%9=1 THEN NULL ELSE ('\\x00\\x01' || i)::BLOB END AS bl
    FROM range(5000) t(i)`;
  for (const [name, options] of [
    ['duck_zstd', 'COMPRESSION zstd'],
    ['duck_plain', 'COMPRESSION uncompressed'],
    ['duck_snappy', 'COMPRESSION snappy'],
    ['duck_v2', 'COMPRESSION zstd, PARQUET_VERSION V2'],
  ]) {
    await con.run(`COPY (${data}) TO ${lit(`${dir}/${name}.parquet`)}
        (FORMAT parquet, ${options}, FIELD_IDS 'auto')`);
  }
}

for (const name of names) {
  const file = lit(`${dir}/${name}.parquet`);
  const cols = (await rows(`DESCRIBE SELECT * FROM read_parquet(${file})`))
    .map((r) => ({ name: r[0], type: r[1] }));

  // Rows, in the order of the file.
  const exprs = cols.map((c) => textOf(`"${c.name.replaceAll('"', '""')}"`, c.type));
  const data = await rows(`SELECT ${exprs.join(', ')} FROM read_parquet(${file},
      file_row_number=true) ORDER BY file_row_number`);
  writeFileSync(`${dir}/${name}.duck.rows`,
    data.map((r) => r.map((v, i) => show(v, cols[i].type)).join('\t') + '\n').join(''));

  // Statistics: DuckDB shows min and max as text in the column's SQL type;
  // they are cast back to that type, then put in the text form.
  const byName = new Map(cols.map((c) => [c.name, c.type]));
  const meta = await rows(`SELECT row_group_id, path_in_schema,
      stats_null_count, stats_min_value, stats_max_value
      FROM parquet_metadata(${file}) ORDER BY row_group_id, column_id`);
  const stats = [];
  for (const [group, col, nulls, lo, hi] of meta) {
    const t = byName.get(col);
    let out = ['-', '-'];
    if (lo !== null && hi !== null) {
      const cast = t === 'JSON' ? 'VARCHAR' : t;
      const e = (v) => t === 'DOUBLE' ? `CAST(${lit(v)} AS DOUBLE)`
        : textOf(`CAST(${lit(v)} AS ${cast})`, t === 'JSON' ? 'JSON' : t);
      const [r] = await rows(`SELECT ${e(lo)}, ${e(hi)}`);
      out = r.map((v) => show(v, t));
    }
    stats.push(`${group}\t${col}\t${nulls}\t${out[0]}\t${out[1]}\n`);
  }
  writeFileSync(`${dir}/${name}.duck.stats`, stats.join(''));

  // The schema, with field ids.
  const schema = await rows(`SELECT name, field_id, type, logical_type,
      converted_type, repetition_type FROM parquet_schema(${file})`);
  writeFileSync(`${dir}/${name}.duck.schema`,
    schema.map((r) => r.map((v) => v === null ? '-' : String(v)).join('\t') + '\n').join('')
    + cols.map((c) => `sql\t${c.name}\t${c.type}\n`).join(''));
}
con.closeSync();
instance.closeSync();
