// One way to ask "are you sure?" before a destructive action: an in-page modal dialog (the native
// <dialog>, rendered once by `ConfirmHost` in App.svelte) instead of the browser's `confirm()`,
// which cannot be styled, reads poorly on phones and blocks the page's scripts.

export type Question = {
  /** What will happen, in a sentence. */
  message: string;
  /** The confirming button's words ("Delete", "Revoke", "Sign out"). */
  action: string;
  answer: (yes: boolean) => void;
};

class Confirmer {
  /** The question on screen, if any. */
  asking = $state.raw<Question | null>(null);
}

export const confirmer = new Confirmer();

/** Asks the question; true when the user chose `action`, false on Cancel or Escape. A second
 * question replaces the first, which answers false. */
export function confirmAction(message: string, action = 'Delete'): Promise<boolean> {
  confirmer.asking?.answer(false);
  return new Promise((resolve) => {
    const q: Question = {
      message,
      action,
      answer: (yes) => {
        if (confirmer.asking === q) confirmer.asking = null;
        resolve(yes);
      },
    };
    confirmer.asking = q;
  });
}
