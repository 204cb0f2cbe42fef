// A labelled form field with its own error line under it, and the mapping
// of a server refusal (`{"error": {"code", "message"}}`) to the field that
// caused it.
import type { ComponentChildren } from 'preact';
import { ApiError } from '../api/http';

export function Field(props: { label: ComponentChildren; error?: string; hint?: ComponentChildren; class?: string; children: ComponentChildren }) {
  return (
    <div class={`field ${props.error ? 'invalid' : ''} ${props.class || ''}`}>
      <label>
        {props.label}
        {props.children}
      </label>
      {props.hint && !props.error && <div class="muted small">{props.hint}</div>}
      {props.error && (
        <div class="field-error" role="alert">
          {props.error}
        </div>
      )}
    </div>
  );
}

/// Errors by field name; `''` is the form's own (not one field's).
export type FieldErrors = Record<string, string>;

/// Puts a refusal next to the field it is about: `pick` names the field for
/// an error code (or the message), else the error is the form's.
export function fieldErrors(e: unknown, pick: (code: string, message: string) => string | undefined): FieldErrors {
  if (e instanceof ApiError) {
    const f = pick(e.code, e.message.toLowerCase());
    return { [f ?? '']: e.message };
  }
  return { '': String((e as Error)?.message || e) };
}

/// The form's own error line.
export function FormError({ errors }: { errors: FieldErrors }) {
  return errors[''] ? (
    <div class="error" role="alert">
      {errors['']}
    </div>
  ) : null;
}
