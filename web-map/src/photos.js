// Photos of requests, for both pages: the resident's photo of the problem (/report, sent with
// the report as Open311's `media`) and the assignee's photo of the work done (待办, 处置完成,
// POST /api/v1/requests/{id}/photos?kind=after). A picker takes a photo from the phone's camera
// or a file, checks it before anything is sent (JPEG or PNG, at most 12 MB; another picture the
// browser can read goes out re-encoded as a JPEG) and shows it small; the server checks again
// and keeps only an upright copy without EXIF for the public.

import { api, ApiError } from './api.js';
import { el } from './ui.js';

/** The largest photo the server takes (src/photos.rs MAX_PHOTO_BYTES). */
export const MAX_PHOTO_BYTES = 12 * 1024 * 1024;
/** What the server takes as it is. */
export const PHOTO_TYPES = ['image/jpeg', 'image/png'];
export const PHOTO_LIMIT_TEXT = 'JPEG 或 PNG 格式，不超过 12\u00a0MB';
/** Why a photo was taken, as the pages say it. */
export const KIND_NAMES = { report: '反映时', after: '处置后' };

/** A photo the page refuses before sending it; the message is for the user. */
export class PhotoRefused extends Error {}

const NOT_A_PHOTO = '只能上传 JPEG 或 PNG 格式的照片，请换一张。';
const TOO_LARGE = '照片太大，不能超过 12 MB，请换一张或压缩后再试。';

function tooLarge(bytes) {
  // Rounded up, so that a photo just over the limit does not read as 12.0 MB.
  return new PhotoRefused(`照片太大（${Math.ceil((bytes / 1024 / 1024) * 10) / 10} MB），不能超过 12 MB，请换一张或压缩后再试。`);
}

/**
 * The photo to send for a chosen file: the file itself when it is a JPEG or PNG of at most 12 MB;
 * another picture the browser can decode (WebP, GIF, a HEIC photo in Safari) re-encoded as a
 * JPEG; anything else refused (PhotoRefused, in Chinese).
 */
export async function photoToSend(file) {
  if (PHOTO_TYPES.includes(file.type)) {
    if (file.size > MAX_PHOTO_BYTES) throw tooLarge(file.size);
    return file;
  }
  const jpeg = file.size <= 4 * MAX_PHOTO_BYTES ? await reencode(file).catch(() => null) : null;
  if (!jpeg) throw new PhotoRefused(NOT_A_PHOTO);
  if (jpeg.size > MAX_PHOTO_BYTES) throw tooLarge(jpeg.size);
  return jpeg;
}

async function reencode(file) {
  if (typeof createImageBitmap !== 'function' || typeof document === 'undefined') return null;
  const bitmap = await createImageBitmap(file);
  try {
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    return blob && new File([blob], `${(file.name || 'photo').replace(/\.[^.]*$/, '')}.jpg`, { type: 'image/jpeg' });
  } finally {
    bitmap.close();
  }
}

/** What a refused photo means, in Chinese: the page's own refusal or the server's answer. */
export function photoErrorText(e) {
  if (e instanceof PhotoRefused) return e.message;
  if (!(e instanceof ApiError)) return '网络连接失败，照片没有上传，请稍后重试。';
  const byCode = {
    photo_too_large: TOO_LARGE,
    too_large: TOO_LARGE,
    unreadable_photo: '无法识别这张照片（文件可能已损坏或不是图片），请换一张。',
    too_many_pixels: '照片像素过多（不能超过 5000 万像素），请换一张或调低相机分辨率后再拍。',
    too_many_photos: '这件诉求的同类照片已有 4 张，不能再添加。',
  };
  if (byCode[e.code]) return byCode[e.code];
  const byStatus = {
    403: '无权为这件诉求上传照片。',
    404: '诉求不存在或无权查看。',
    409: byCode.too_many_photos,
    413: TOO_LARGE,
    415: NOT_A_PHOTO,
    422: byCode.unreadable_photo,
  };
  return byStatus[e.status] ?? `照片上传失败（${e.status}），请稍后重试。`;
}

/** Uploads a photo of `kind` (report or after) to a request: the photo as the server describes it. */
export async function uploadPhoto(requestId, blob, kind) {
  const { body } = await api(`/api/v1/requests/${requestId}/photos?kind=${kind}`, {
    method: 'POST',
    body: blob,
    headers: { 'content-type': blob.type },
  });
  return body;
}

/** The photos of a request (public): [{id, kind, url, thumbnail_url, …}]. */
export async function requestPhotos(requestId) {
  const { body } = await api(`/api/v1/requests/${requestId}/photos`);
  return body.photos ?? [];
}

/** Thumbnails of photos, each a link to its public copy, named by kind. */
export function photoStrip(photos) {
  return photos.map((p) =>
    el(
      'a',
      { class: 'photo-thumb', href: p.url, target: '_blank', rel: 'noopener', 'data-kind': p.kind, 'data-photo': p.id, title: `${KIND_NAMES[p.kind] ?? ''}照片（点击查看大图）` },
      el('img', { src: p.thumbnail_url, alt: `${KIND_NAMES[p.kind] ?? ''}照片` }),
      el('span', {}, KIND_NAMES[p.kind] ?? p.kind),
    ),
  );
}

/**
 * A photo picker: a button that opens the camera (or the files), the limits, a small preview of
 * the chosen photo with 移除, and a line for a refusal. `photo()` is the checked photo to send, or
 * null; `showError(text)` says why one was refused; `clear()` forgets it.
 */
export function photoPicker({ label = '添加照片', accept = PHOTO_TYPES.join(','), onChange = () => {} } = {}) {
  let chosen = null;
  let seq = 0;
  const input = el('input', { type: 'file', accept, capture: 'environment', class: 'visually-hidden' });
  const img = el('img', { alt: '所选照片预览' });
  const size = el('span', { class: 'photo-size' });
  const preview = el('div', { class: 'photo-preview', hidden: true }, img, size, el('button', { type: 'button', class: 'photo-remove', onclick: () => clear() }, '移除'));
  const error = el('p', { class: 'error photo-error', role: 'alert', hidden: true });
  const node = el(
    'div',
    { class: 'photo-picker' },
    el('div', { class: 'photo-row' }, el('label', { class: 'photo-pick' }, input, el('span', { class: 'photo-plus', 'aria-hidden': 'true' }, '＋'), el('span', {}, label)), el('span', { class: 'photo-limit' }, PHOTO_LIMIT_TEXT)),
    preview,
    error,
  );

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  function clear() {
    seq += 1;
    if (chosen) URL.revokeObjectURL(img.src);
    chosen = null;
    input.value = '';
    img.removeAttribute('src');
    preview.hidden = true;
    showError('');
    onChange(null);
  }

  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return clear();
    const mine = ++seq;
    showError('');
    try {
      const blob = await photoToSend(file);
      if (mine !== seq) return;
      if (chosen) URL.revokeObjectURL(img.src);
      chosen = blob;
      img.src = URL.createObjectURL(blob);
      size.textContent = blob.size < 1024 * 1024 ? `${Math.ceil(blob.size / 1024)} KB` : `${(blob.size / 1024 / 1024).toFixed(1)} MB`;
      preview.hidden = false;
      onChange(blob);
    } catch (e) {
      if (mine !== seq) return;
      clear();
      showError(photoErrorText(e));
    }
  });

  return { node, input, photo: () => chosen, showError, clear };
}
