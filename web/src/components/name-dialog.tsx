// Asks for a name (a snapshot's, a new workspace's) in a modal dialog.
import { useState } from 'preact/hooks';
import { Field } from './field';
import { Modal } from './modal';

export function NameDialog(props: {
  title: string;
  label: string;
  initial?: string;
  confirm: string;
  onCancel: () => void;
  onConfirm: (name: string) => void;
}) {
  const [name, setName] = useState(props.initial ?? '');
  return (
    <Modal title={props.title} onClose={props.onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm(name.trim());
        }}
      >
        <Field label={props.label}>
          <input
            name="name"
            value={name}
            autoFocus
            pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?"
            title="lowercase letters, digits and '-'"
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <div class="row end">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={!name.trim()}>
            {props.confirm}
          </button>
        </div>
      </form>
    </Modal>
  );
}
