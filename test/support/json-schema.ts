/**
 * A validator for the subset of JSON Schema 2020-12 that `POLICY_SCHEMA` uses (type, enum, minimum, maximum,
 * minLength, pattern, minItems, items, properties, additionalProperties, propertyNames, required, anyOf, not),
 * for tests that hold the schema and the parser to agreement. It throws on any keyword it does not know, so the
 * schema cannot grow a keyword this validator silently ignores.
 */
import type { JsonSchema } from "../../worker/policy/policy-schema.ts";

const KNOWN = new Set([
  "$schema",
  "$id",
  "title",
  "description",
  "type",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "pattern",
  "minItems",
  "items",
  "properties",
  "additionalProperties",
  "propertyNames",
  "required",
  "anyOf",
  "not",
  "examples",
]);

/** The first place `value` breaks `schema`, as a JSON path, or undefined when it conforms. */
export function schemaError(schema: JsonSchema, value: unknown, at = "$"): string | undefined {
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`unsupported keyword ${key} at ${at}`);
  const type = schema.type;
  if (type !== undefined && !hasType(value, type)) return `${at}: not ${type}`;
  if (schema.enum && !schema.enum.includes(value as string)) return `${at}: not in enum`;
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) return `${at}: below minimum`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${at}: above maximum`;
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && [...value].length < schema.minLength) return `${at}: too short`;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) return `${at}: pattern`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${at}: too few items`;
    if (schema.items) {
      for (const [i, item] of value.entries()) {
        const error = schemaError(schema.items, item, `${at}[${i}]`);
        if (error) return error;
      }
    }
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    for (const name of schema.required ?? []) if (!(name in o)) return `${at}.${name}: required`;
    for (const [name, member] of Object.entries(o)) {
      if (schema.propertyNames) {
        const error = schemaError(schema.propertyNames, name, `${at}.${name} (name)`);
        if (error) return error;
      }
      const sub = schema.properties?.[name];
      if (sub) {
        const error = schemaError(sub, member, `${at}.${name}`);
        if (error) return error;
      } else if (schema.additionalProperties === false) {
        return `${at}.${name}: not allowed`;
      } else if (typeof schema.additionalProperties === "object") {
        const error = schemaError(schema.additionalProperties, member, `${at}.${name}`);
        if (error) return error;
      }
    }
  }
  if (schema.anyOf?.every((s) => schemaError(s, value, at) !== undefined)) return `${at}: no anyOf`;
  if (schema.not && schemaError(schema.not, value, at) === undefined) return `${at}: matches not`;
  return undefined;
}

function hasType(value: unknown, type: NonNullable<JsonSchema["type"]>): boolean {
  switch (type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}
