// Monaco's ESM entry points that ship without type declarations.
declare module 'monaco-editor/esm/vs/editor/editor.all.js';
declare module 'monaco-editor/esm/vs/basic-languages/monaco.contribution';
