import { engineNames } from '../../../../main/common/engine';
import {
  presets,
  validatePretrainConfig,
  type FieldError,
  type PresetName,
  type PretrainConfig,
  type PretrainOverrides,
} from '../../../../main/common/pretrain-config';

/** The fields of a run's settings as the new-run form edits them: groups, labels, input kinds. */

export type ConfigField = Exclude<keyof PretrainConfig, 'preset'>;

export interface FieldSpec {
  field: ConfigField;
  label: string;
  /** 'int' and 'number' are text inputs checked as numbers; 'select' offers `options`. */
  kind: 'int' | 'number' | 'select';
  options?: readonly { value: string | number; label: string }[];
  step?: string;
  hint: string;
}

export interface FieldGroup {
  title: string;
  fields: FieldSpec[];
}

export const fieldGroups: FieldGroup[] = [
  {
    title: 'Backbone',
    fields: [
      {
        field: 'arch',
        label: 'Architecture',
        kind: 'select',
        options: [
          { value: 'resnet18', label: 'ResNet-18' },
          { value: 'resnet50', label: 'ResNet-50' },
        ],
        hint: 'torchvision layout and layer names.',
      },
      { field: 'width', label: 'Width', kind: 'number', step: '0.0625', hint: 'Multiplier of every layer width (1 = torchvision).' },
    ],
  },
  {
    title: 'Jigsaw',
    fields: [
      {
        field: 'grid',
        label: 'Grid (m)',
        kind: 'select',
        options: [
          { value: 2, label: '2 × 2' },
          { value: 3, label: '3 × 3' },
        ],
        hint: 'Patches per side; 2 is the paper’s best.',
      },
      { field: 'crop', label: 'Crop (s, px)', kind: 'int', step: '16', hint: 'Patch side; a montage is grid × crop pixels.' },
      { field: 'cross', label: 'Cross ratio (c)', kind: 'number', step: '0.05', hint: 'Overlap of neighbouring patches.' },
    ],
  },
  {
    title: 'Loss',
    fields: [
      { field: 'temperature', label: 'Temperature (t)', kind: 'number', step: '0.01', hint: 'Of the cluster (SupClu) loss.' },
      { field: 'projectionDim', label: 'Projection dim', kind: 'int', step: '16', hint: 'Output size of the cluster head.' },
      { field: 'alpha', label: 'Alpha (cluster)', kind: 'number', step: '0.1', hint: 'total = alpha × cluster + beta × location.' },
      { field: 'beta', label: 'Beta (location)', kind: 'number', step: '0.1', hint: 'Weight of the location loss.' },
    ],
  },
  {
    title: 'Optimisation',
    fields: [
      { field: 'batch', label: 'Batch', kind: 'int', step: '1', hint: 'Images (montages) per step.' },
      { field: 'epochs', label: 'Epochs', kind: 'int', step: '1', hint: 'Passes over the images.' },
      { field: 'lr', label: 'Learning rate', kind: 'number', step: '0.01', hint: 'Used as given at any batch size (the reference’s 0.03), cosine decay per epoch.' },
      { field: 'momentum', label: 'Momentum', kind: 'number', step: '0.01', hint: 'SGD momentum.' },
      { field: 'weightDecay', label: 'Weight decay', kind: 'number', step: '0.0001', hint: 'L2 penalty.' },
      { field: 'seed', label: 'Seed', kind: 'int', step: '1', hint: 'Same seed, same data order and weights.' },
    ],
  },
  {
    title: 'Checkpoints',
    fields: [
      { field: 'checkpointEvery', label: 'Every (steps)', kind: 'int', step: '100', hint: 'Also at each epoch end.' },
      { field: 'keepCheckpoints', label: 'Keep', kind: 'int', step: '1', hint: 'Newest step checkpoints kept.' },
    ],
  },
  {
    title: 'Engine',
    fields: [
      {
        field: 'engine',
        label: 'Engine',
        kind: 'select',
        options: [{ value: 'auto', label: 'Automatic (best available)' }, ...engineNames.map((name) => ({ value: name, label: name }))],
        hint: 'TensorFlow.js backend to train on.',
      },
      {
        field: 'convGrad',
        label: 'Conv gradient',
        kind: 'select',
        options: [
          { value: 'auto', label: 'Automatic' },
          { value: 'fast', label: 'Fast (ours)' },
          { value: 'native', label: 'Native (tfjs)' },
        ],
        hint: '“Fast” is our filter gradient for wasm/cpu.',
      },
    ],
  },
];

export const allFields: FieldSpec[] = fieldGroups.flatMap((group) => group.fields);

/** The settings a newcomer changes: shown at once; the others wait under Advanced. */
export const basicFieldNames: readonly ConfigField[] = ['arch', 'width', 'batch', 'epochs'];

/** The basic settings as one group. */
export const basicGroup: FieldGroup = {
  title: 'Backbone and length',
  fields: basicFieldNames.map((name) => allFields.find((spec) => spec.field === name)!),
};

/** Every other setting, in its group, for the Advanced section. */
export const advancedGroups: FieldGroup[] = fieldGroups
  .map((group) => ({ ...group, fields: group.fields.filter((spec) => !basicFieldNames.includes(spec.field)) }))
  .filter((group) => group.fields.length > 0);

/** What the form's inputs hold: text for every field (so a half-typed number stays as typed). */
export type FieldTexts = Record<ConfigField, string>;

/** The inputs' texts for a preset. */
export function textsFor(preset: PresetName): FieldTexts {
  const config = presets[preset];
  return Object.fromEntries(allFields.map((spec) => [spec.field, String(config[spec.field])])) as FieldTexts;
}

/** Reads one input: a number for number fields (NaN when it is not one), the text for selects but grid. */
function parseField(spec: FieldSpec, text: string): number | string {
  if (spec.kind === 'select') return spec.field === 'grid' ? Number(text) : text;
  const trimmed = text.trim();
  return trimmed === '' ? Number.NaN : Number(trimmed);
}

/**
 * The overrides of a preset the inputs hold: only the fields that differ from the preset, and
 * the errors of inputs that are not numbers at all (the schema would only say "expected number").
 */
export function overridesFrom(preset: PresetName, texts: FieldTexts): { overrides: PretrainOverrides; errors: FieldError[] } {
  const config = presets[preset];
  const overrides: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  for (const spec of allFields) {
    const text = texts[spec.field] ?? '';
    const value = parseField(spec, text);
    if (typeof value === 'number' && !Number.isFinite(value)) {
      errors.push({ field: spec.field, message: text.trim() === '' ? `Enter a value (the preset uses ${String(config[spec.field])}).` : `“${text}” is not a number.` });
      continue;
    }
    if (value !== config[spec.field]) overrides[spec.field] = value;
  }
  return { overrides: overrides as PretrainOverrides, errors };
}

/** Makes a schema message read as a sentence: "Too big: expected number to be <=4096" -> "Too big: at most 4096." */
export function friendlyMessage(message: string): string {
  const tooBig = /expected \w+ to be <=?\s*(-?[\d.e+-]+)/i.exec(message);
  if (/too big/i.test(message) && tooBig) return `Too large: at most ${Number(tooBig[1]).toLocaleString('en-US')}.`;
  const tooSmall = /expected \w+ to be (>=?)\s*(-?[\d.e+-]+)/i.exec(message);
  if (/too small/i.test(message) && tooSmall) {
    return tooSmall[1] === '>' ? `Too small: more than ${tooSmall[2]}.` : `Too small: at least ${Number(tooSmall[2]).toLocaleString('en-US')}.`;
  }
  if (/expected int/i.test(message)) return 'Enter a whole number.';
  const plain = message.replace(/--([a-z][\w-]*)/gi, 'the $1');
  const text = plain.charAt(0).toUpperCase() + plain.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/**
 * Checks the inputs on this machine, instantly: numbers, the schema's ranges and the
 * cross-field rules (and the batch against `imageCount` when known). One error per field.
 */
export function validateTexts(preset: PresetName, texts: FieldTexts, imageCount?: number): { overrides: PretrainOverrides; errors: FieldError[]; config?: PretrainConfig } {
  const parsed = overridesFrom(preset, texts);
  const errors = [...parsed.errors];
  let config: PretrainConfig | undefined;
  // The cross-field rules only run once every field is in range: check again without the fields
  // already at fault, so every error shows at once.
  for (let pass = 0; pass < 3; pass++) {
    const bad = new Set(errors.map((error) => error.field));
    const checkable = Object.fromEntries(Object.entries(parsed.overrides).filter(([field]) => !bad.has(field))) as PretrainOverrides;
    const checked = validatePretrainConfig(preset, checkable, imageCount);
    const fresh = checked.errors.filter((error) => !bad.has(error.field));
    for (const error of fresh) errors.push({ field: error.field, message: friendlyMessage(error.message) });
    if (checked.errors.length === 0 || fresh.length === 0) {
      if (errors.length === 0) config = checked.config;
      break;
    }
  }
  return { overrides: parsed.overrides, errors, ...(config ? { config } : {}) };
}
