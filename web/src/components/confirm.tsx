// A confirmation dialog with an optional checkbox (e.g. "also delete the data").
import { useState } from 'preact/hooks';
import { Modal } from './modal';

export function Confirm(props: {
  title: string;
  body: string;
  option?: string;
  confirm: string;
  onCancel: () => void;
  onConfirm: (option: boolean) => void;
}) {
  const [opt, setOpt] = useState(false);
  return (
    <Modal title={props.title} onClose={props.onCancel}>
      <p>{props.body}</p>
      {props.option && (
        <label class="check">
          <input type="checkbox" checked={opt} onChange={(e) => setOpt(e.currentTarget.checked)} /> {props.option}
        </label>
      )}
      <div class="row end">
        <button onClick={props.onCancel}>Cancel</button>
        <button class="danger" autoFocus onClick={() => props.onConfirm(opt)}>
          {props.confirm}
        </button>
      </div>
    </Modal>
  );
}
